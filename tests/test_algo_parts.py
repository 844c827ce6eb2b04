"""The pieces the algorithms are built from: checkpoints from declared parts (deep/algos/_checkpoint.py), the
one gradient step (deep/nets/optim.py) and the estimators that own the discount (deep/algos/estimators.py)."""
import pytest
import torch

from deep.algos._checkpoint import Checkpointed
from deep.algos.estimators import NStepReturn, OneStepTD, SoftTDLambda
from deep.nets.optim import fused_adam, gradient_step


class Toy(Checkpointed):
    state_parts = ("nets", "opt", "scale", "scales", "absent", "count", "last", "net")
    state_renames = {"net": "the_net"}

    def __init__(self, seed: int):
        torch.manual_seed(seed)
        self.nets = [torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)]
        self.the_net = torch.nn.Linear(1, 1)
        self.opt = fused_adam(self.nets[0].parameters(), 0.1)
        self.scale = torch.tensor(float(seed), requires_grad=True)
        self.scales = [torch.tensor(float(seed)), torch.tensor(2.0 * seed)]
        self.absent = None
        self.count = seed
        self.last = [0.5 * seed, 1.5 * seed]


def test_a_declared_state_round_trips_every_kind_of_part():
    a, b = Toy(1), Toy(2)
    gradient_step(a.opt, a.nets[0](torch.ones(3, 2)).sum())      # optimiser state to carry over
    sd = a.state_dict()
    assert set(sd) == set(Toy.state_parts) and sd["absent"] is None
    nets, scale = b.nets, b.scale
    b.load_state_dict(sd)
    assert b.nets is nets and b.scale is scale                      # loaded in place
    assert all(torch.equal(x, y) for m, n in zip(a.nets + [a.the_net], b.nets + [b.the_net])
               for x, y in zip(m.state_dict().values(), n.state_dict().values()))
    assert b.opt.state_dict()["state"][0]["step"] == 1
    assert (b.scale.item(), [s.item() for s in b.scales], b.count, b.last) == (1.0, [1.0, 2.0], 1, [0.5, 1.5])
    assert type(b.count) is int and b.scale.requires_grad
    sd["last"] = [1.0]
    with pytest.raises(ValueError):
        b.load_state_dict(sd)                                        # a list of another length is refused


def test_gradient_step_clips_and_returns_the_norm():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    norm = gradient_step(opt, (w * w.detach()).sum(), [w], max_norm=1.0)   # gradient (3, 4): norm 5
    assert norm.item() == pytest.approx(5.0)
    torch.testing.assert_close(w.detach(), torch.tensor([3.0 - 0.6, 4.0 - 0.8]))
    assert gradient_step(opt, w.sum()) is None


def test_n_step_return_of_raw_windows():
    windows = {"state": torch.zeros(2, 1), "reward": torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]),
               "logp": torch.tensor([[[-1.0], [-2.0], [-3.0]]] * 2),
               "alive": torch.tensor([[1, 1, 1], [1, 1, 0]]).bool(), "terminal": torch.tensor([False, True])}
    b = NStepReturn(0.5, 3)(windows)
    torch.testing.assert_close(b["reward_sum"], torch.tensor([1 + 0.5 * 2 + 0.25 * 3, 1 + 0.5 * 2]))
    torch.testing.assert_close(b["logp_sum"], torch.tensor([[0.5 * -2 + 0.25 * -3], [0.5 * -2]]))
    torch.testing.assert_close(b["disc"], torch.tensor([0.125, 0.0]))
    assert not {"reward", "logp", "alive", "terminal"} & set(b)


def test_td_targets_by_hand():
    r, term = torch.tensor([[1.0, 2.0]]), torch.tensor([[False, True]])
    torch.testing.assert_close(OneStepTD(0.9)(r, term, torch.tensor([[10.0, 20.0]])), torch.tensor([[10.0, 2.0]]))
    # two filled steps, not terminated: G_1 = r_1 + g U_2, G_0 = r_0 + g ((1 - l) U_1 + l (G_1 + H_1))
    g, lam, u, h = 0.9, 0.5, torch.tensor([[10.0, 20.0]]), torch.tensor([[-1.0]])
    y = SoftTDLambda(g, lam)(r, torch.zeros(1, 2, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool), u, h)
    g1 = 2 + g * 20
    torch.testing.assert_close(y, torch.tensor([[1 + g * ((1 - lam) * 10 + lam * (g1 - 1)), g1]]))

