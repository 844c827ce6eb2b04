"""HASAC units: actors (bounds, masks, densities), target entropies, n-step targets, gradient isolation,
Polyak targets and the eq. 10 sequential re-sampling."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gymnasium.spaces import Box, Discrete, MultiDiscrete

from deep.envs.base import EnvSpec
from deep.algos.estimators import NStepReturn
from deep.algos.hasac import HASAC, HASACParams
from deep.nets.critics import TwinCritic
from deep.nets.heads import CategoricalActor, MultiDiscreteActor, SquashedGaussianActor, make_actor
from deep.nets.mlp import MLP, mlp, set_precision
from deep.storage.replay import ReplayBuffer

torch.set_num_threads(1)


# ---------------------------------------------------------------- actors
def test_squashed_gaussian_respects_asymmetric_bounds_and_its_density_is_exact():
    torch.manual_seed(0)
    space = Box(low=np.array([0.0, -2.0], np.float32), high=np.array([1.0, 3.0], np.float32))
    actor = SquashedGaussianActor(4, space, [16])
    obs = torch.randn(5000, 4) * 3
    s = actor.sample(obs)
    low, high = torch.tensor([0.0, -2.0]), torch.tensor([1.0, 3.0])
    assert torch.all(s.env >= low) and torch.all(s.env <= high)
    assert s.env[:, 0].min() < 0.1 and s.env[:, 1].max() > 2.0  # the whole box is used, not [-1, 1]
    det = actor.act(obs).env
    assert torch.all(det >= low) and torch.all(det <= high)
    # logp is the density in tanh units (of s.stored), against torch.distributions' change of variables
    # Normal -> tanh; the environment action's density differs from it by the affine map's constant Jacobian
    from torch.distributions import Independent, Normal, TransformedDistribution
    from torch.distributions.transforms import AffineTransform, TanhTransform
    mu, log_std = actor.body(obs[:50]).chunk(2, -1)
    torch.manual_seed(1)
    s = actor.sample(obs[:50])
    base = Independent(Normal(mu, log_std.clamp(-20, 2).exp()), 1)
    in_tanh = TransformedDistribution(base, [TanhTransform()])
    in_env = TransformedDistribution(base, [TanhTransform(), AffineTransform(low + (high - low) / 2, (high - low) / 2)])
    ok = (s.stored.abs() < 0.999).all(-1)  # away from the float32 saturation of tanh
    torch.testing.assert_close(s.logp[ok], in_tanh.log_prob(s.stored)[ok], atol=1e-3, rtol=1e-4)
    log_jac = math.log(0.5) + math.log(2.5)
    torch.testing.assert_close(s.logp[ok] - log_jac, in_env.log_prob(s.env)[ok], atol=1e-3, rtol=1e-4)
    # warm-up actions are uniform on the box: log density -d log 2 in tanh units
    r = actor.random(1000, None, np.random.default_rng(0))
    assert torch.all(r.env >= low) and torch.all(r.env <= high)
    torch.testing.assert_close(r.logp, torch.full((1000,), -2 * math.log(2.0)))


def test_box_without_finite_bounds_is_rejected():
    with pytest.raises(ValueError, match="finite bounds"):
        make_actor(3, Box(-np.inf, np.inf, (2,)), [8])


def test_discrete_masks_are_never_violated():
    torch.manual_seed(0)
    actor = CategoricalActor(3, 4, [16])
    with torch.no_grad():
        actor.body[-1].bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))  # action 0 strongly preferred
    obs = torch.randn(4000, 3)
    avail = torch.ones(4000, 4, dtype=torch.bool)
    avail[:, 0] = False
    avail[::2, 2] = False
    s = actor.sample(obs, avail)
    assert avail.gather(1, s.env[:, None]).all()
    assert avail.gather(1, actor.act(obs, avail).env[:, None]).all()
    assert torch.all(actor.log_probs(obs, avail).exp()[~avail] == 0)
    assert torch.all(s.rep.sum(-1) == 1) and torch.all(s.rep[~avail] == 0)
    r = actor.random(4000, avail.numpy(), np.random.default_rng(0))
    assert avail.gather(1, r.env[:, None]).all()
    counts = avail.sum(1).double()
    torch.testing.assert_close(r.logp.double(), -counts.log())
    with pytest.raises(ValueError, match="no available action"):
        actor.sample(obs[:2], torch.zeros(2, 4, dtype=torch.bool))


def test_multidiscrete_actor_masks_and_shapes():
    torch.manual_seed(0)
    actor = MultiDiscreteActor(3, MultiDiscrete([3, 2]), [16])
    avail = torch.ones(500, 5, dtype=torch.bool)
    avail[:, 1] = False  # component 0, action 1
    s = actor.sample(torch.randn(500, 3), avail)
    assert s.env.shape == (500, 2) and s.rep.shape == (500, 5)
    assert not torch.any(s.env[:, 0] == 1)
    assert torch.all(s.env[:, 1] < 2)


def test_target_entropies():
    assert make_actor(3, Box(0, 1, (5,)), [8]).target_entropy(0.98) == -5.0
    assert make_actor(3, Discrete(5), [8]).target_entropy(0.98) == pytest.approx(0.98 * math.log(5), abs=1e-12)
    assert make_actor(3, MultiDiscrete([3, 2]), [8]).target_entropy(0.5) == pytest.approx(0.5 * math.log(6), abs=1e-12)
    spec = EnvSpec("x", 2, (3, 3), 4, (Discrete(4), Box(-1, 1, (2,))), 10)
    h = HASAC(spec, HASACParams(hidden=(8,), target_entropy_fraction=0.6))
    assert h.target_entropy == pytest.approx([0.6 * math.log(4), -2.0], abs=1e-12)
    assert h.target_entropy[0] > 0  # the reference code's discrete target entropy evaluates to 0


def test_masked_discrete_target_entropy_counts_the_available_actions_per_state():
    spec = EnvSpec("x", 2, (3, 3), 4, (Discrete(4), MultiDiscrete([3, 2])), 10)
    h = HASAC(spec, HASACParams(hidden=(8,), target_entropy_fraction=0.5))
    m = torch.ones(3, 4, dtype=torch.bool)
    m[0, 1:] = False   # 1 action available
    m[1, 2:] = False   # 2 actions
    expected = 0.5 * (math.log(1) + math.log(2) + math.log(4)) / 3
    assert h.target_entropy_of(0, m) == pytest.approx(expected, abs=1e-12)
    md = torch.ones(2, 5, dtype=torch.bool)
    md[0, 0] = False   # component 0 (3 actions): 2 available in row 0
    assert h.target_entropy_of(1, md) == pytest.approx(0.5 * (math.log(2 * 2) + math.log(6)) / 2, abs=1e-12)
    # nothing masked: today's value exactly
    assert h.target_entropy_of(0, None) == h.target_entropy_of(0, torch.ones(5, 4, dtype=torch.bool)) \
        == h.target_entropy[0] == 0.5 * math.log(4)


def test_temperature_is_still_where_a_mask_leaves_one_action():
    """One available action: the policy's entropy is 0 and so is the target, so alpha stays put (with the
    target of all actions, 0.98 log 4, alpha would grow at every update)."""
    h, batch = _agent_and_batch([Discrete(4)])
    one = torch.zeros(32, 4, dtype=torch.bool)
    one[:, 2] = True
    batch["avail"][0] = batch["next_avail"][0] = one
    a0 = h.alphas()[0].item()
    for k in range(3):
        h.update(batch, np.random.default_rng(k))
    assert h.alphas()[0].item() == a0


# ---------------------------------------------------------------- n-step targets
def _buffer_with(rewards, logps, terms, truncs, gamma_shape=(1,)):
    T = len(rewards)
    buf = ReplayBuffer(100, 1, 1, [1, 1], [(), ()], [np.int64, np.int64], [None, None])
    for t in range(T):
        st = np.array([[float(t)]], np.float32)
        buf.add(st, [st, st], [None, None], [np.zeros(1, np.int64)] * 2, np.array([logps[t]], np.float32),
                np.array([rewards[t]], np.float32), np.array([terms[t]]), np.array([truncs[t]]),
                st + 100.0, [st + 100.0, st + 100.0], [None, None])
    return buf


def test_replay_windows_follow_their_copy_across_the_end_of_the_ring():
    """Windows of 2 steps from 3 copies in a ring of 4 slots that 7 vector steps wrapped: every field is that
    of the sampled copy at the sampled slot (values encode step and copy), and the bootstrap fields are the
    next step's or, where the chain's last step ended an episode, the final ones."""
    E, steps = 3, 2
    buf = ReplayBuffer(12, E, 1, [1], [()], [np.int64], [2])
    ended = {(4, 1): "term", (5, 2): "trunc", (6, 0): "term"}
    code = lambda k, c: 100.0 * k + c                                                         # noqa: E731
    for k in range(7):
        v = np.array([[code(k, c)] for c in range(E)], np.float32)
        avail = np.array([[(k + c) % 2 == 0, True] for c in range(E)])
        buf.add(v, [v], [avail], [np.array([10 * k + c for c in range(E)])], v / 1000, v[:, 0] / 10,
                np.array([ended.get((k, c)) == "term" for c in range(E)]),
                np.array([ended.get((k, c)) == "trunc" for c in range(E)]), -v, [-v], [~avail])
    b = buf.sample(500, steps, np.random.default_rng(0))
    seen = set()
    for j in range(500):
        k, c = divmod(int(b["state"][j, 0]), 100)
        seen.add((k, c))
        assert k in (3, 4) and b["obs"][0][j, 0] == code(k, c) and b["act"][0][j] == 10 * k + c
        assert b["avail"][0][j].tolist() == [(k + c) % 2 == 0, True]
        m = 1 if (k, c) in ended else 2
        last = k + m - 1
        assert b["alive"][j].tolist() == [True, m == 2]
        torch.testing.assert_close(b["reward"][j], torch.tensor([code(k, c), code(k + 1, c)]) / 10)
        torch.testing.assert_close(b["logp"][j, :, 0], torch.tensor([code(k, c), code(k + 1, c)]) / 1000)
        assert bool(b["terminal"][j]) == (ended.get((last, c)) == "term")
        final = (last, c) in ended
        nxt = -code(last, c) if final else code(last + 1, c)
        assert b["next_state"][j, 0] == nxt and b["next_obs"][0][j, 0] == nxt
        after = (last if final else last + 1) + c
        assert b["next_avail"][0][j].tolist() == ([(after % 2) != 0, False] if final else [after % 2 == 0, True])
    assert len(seen) == 2 * E   # the two slots whose two steps are all written, of every copy


def test_n_step_targets_include_intermediate_entropy_terms_and_stop_at_episode_ends():
    g = 0.9
    rewards = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    logps = [[-0.1, -0.2], [-0.3, -0.4], [-0.5, -0.6], [-0.7, -0.8], [-0.9, -1.0], [-1.1, -1.2], [-1.3, -1.4]]
    terms = [False, False, False, False, True, False, False]
    truncs = [False, True, False, False, False, False, False]
    buf = _buffer_with(rewards, logps, terms, truncs)
    b = NStepReturn(g, 3)(buf.sample(2000, 3, np.random.default_rng(0)))   # HASAC's estimator of the windows
    starts = b["state"][:, 0].numpy().astype(int)
    assert set(starts) == {0, 1, 2, 3}  # the last 3 slots cannot start a full 3-step chain yet
    for k, t in enumerate(starts):
        R, L, m = 0.0, np.zeros(2), 0
        for j in range(3):
            R += g ** j * rewards[t + j]
            if j:
                L += g ** j * np.array(logps[t + j])
            m += 1
            if terms[t + j] or truncs[t + j]:
                break
        last = t + m - 1
        ended = terms[last] or truncs[last]
        disc = 0.0 if terms[last] else g ** m
        nxt = last + 100.0 if ended else last + 1.0
        assert b["reward_sum"][k].item() == pytest.approx(R, abs=1e-5)
        np.testing.assert_allclose(b["logp_sum"][k].numpy(), L, atol=1e-6)
        assert b["disc"][k].item() == pytest.approx(disc, abs=1e-7)
        assert b["next_state"][k, 0].item() == nxt


@pytest.mark.parametrize("n_step_entropy", [True, False])
def test_critic_target_formula(n_step_entropy):
    """The n-step target with the intermediate actions' entropy terms, and without them (the default: rewards
    only along the chain, the reference code's target)."""
    spec = EnvSpec("x", 2, (1, 1), 1, (Discrete(2), Discrete(3)), 10)
    torch.manual_seed(0)
    h = HASAC(spec, HASACParams(hidden=(8,), auto_alpha=False, alpha=0.7, n_step_entropy=n_step_entropy))
    B = 6
    batch = {"reward_sum": torch.arange(B, dtype=torch.float32), "logp_sum": torch.ones(B, 2) * -0.5,
             "disc": torch.tensor([0.0, 0.5, 0.9, 0.0, 1.0, 0.25]), "next_state": torch.ones(B, 1),
             "next_obs": [torch.ones(B, 1)] * 2, "next_avail": [None, None]}
    y = h.critic_target_values(batch)
    # discrete agents: the entropy term is exact, so the target is deterministic apart from the critic input
    lp = [a.log_probs(torch.ones(1, 1))[0] for a in h.actors]
    ent = sum(-(p.exp() * p).sum() for p in lp)
    with torch.no_grad():
        qs = torch.stack([h.critic_target.min_q(torch.ones(1, 1), torch.cat([torch.eye(2)[i], torch.eye(3)[j]])[None])[0]
                          for i in range(2) for j in range(3)])
    base = batch["reward_sum"] + (0.7 * 0.5 * 2 if n_step_entropy else 0.0)
    v = (y - base)[batch["disc"] > 0] / batch["disc"][batch["disc"] > 0] - 0.7 * ent
    # each bootstrap value is min Q_target at one of the 6 joint actions (the sampled one), exactly
    assert torch.all((v[:, None] - qs[None, :]).abs().min(1).values < 1e-5)
    torch.testing.assert_close(y[batch["disc"] == 0], base[batch["disc"] == 0])


# ---------------------------------------------------------------- the update
def _agent_and_batch(spaces, loss="expected", B=32, share=False, hidden=(16, 16), precision="fp32",
                     value_norm=False):
    torch.manual_seed(0)
    n = len(spaces)
    spec = EnvSpec("x", n, (3,) * n, 5, tuple(spaces), 10)
    h = HASAC(spec, HASACParams(hidden=hidden, batch_size=B, discrete_actor_loss=loss, share_params=share,
                                precision=precision, value_norm=value_norm))
    g = torch.Generator().manual_seed(1)
    acts = []
    for s in spaces:
        if isinstance(s, Box):
            acts.append(torch.rand(B, s.shape[0], generator=g) * 2 - 1)
        elif isinstance(s, MultiDiscrete):
            acts.append(torch.stack([torch.randint(0, int(k), (B,), generator=g) for k in s.nvec], -1))
        else:
            acts.append(torch.randint(0, s.n, (B,), generator=g))
    batch = {"state": torch.randn(B, 5, generator=g), "next_state": torch.randn(B, 5, generator=g),
             "obs": [torch.randn(B, 3, generator=g) for _ in spaces], "next_obs": [torch.randn(B, 3, generator=g) for _ in spaces],
             "avail": [None] * n, "next_avail": [None] * n, "act": acts, "reward_sum": torch.randn(B, generator=g),
             "logp_sum": torch.randn(B, n, generator=g), "disc": torch.full((B,), 0.9)}
    return h, batch


@pytest.mark.parametrize("value_norm", [False, True])
@pytest.mark.parametrize("loss", ["expected", "gumbel"])
def test_gradient_isolation(loss, value_norm):
    h, batch = _agent_and_batch([Discrete(3), Box(0, 1, (2,))], loss, value_norm=value_norm)
    c_loss, _ = h.critic_loss(batch)
    c_loss.backward()
    assert all(p.grad is None for a in h.actors for p in a.parameters()), "critic loss reached an actor"
    assert all(p.grad is None for p in h.critic_target.parameters())
    assert all(p.grad is not None for p in h.critic.parameters())
    h.critic.zero_grad(set_to_none=True)  # the critic's parameters still require grad: actor losses must not reach them
    with torch.no_grad():
        reps = [a.sample(batch["obs"][i]).rep for i, a in enumerate(h.actors)]
    for i in range(2):
        a_loss, _ = h.actor_loss(i, batch, reps)
        a_loss.backward()
        assert all(p.grad is not None for p in h.actors[i].parameters())
        assert all(p.grad is None for p in h.actors[1 - i].parameters()), "agent i's loss reached another actor"
        h.actors[i].zero_grad(set_to_none=True)
    assert all(p.grad is None for p in h.critic.parameters()) and all(p.grad is None for p in h.critic_target.parameters())
    # a full update: targets are Polyak averages, never trained
    old_t = [p.clone() for p in h.critic_target.parameters()]
    h.update(batch, np.random.default_rng(0))
    assert all(not p.requires_grad and p.grad is None for p in h.critic_target.parameters())
    for p_t, p_old, p in zip(h.critic_target.parameters(), old_t, h.critic.parameters()):
        torch.testing.assert_close(p_t, (1 - h.params.polyak) * p_old + h.params.polyak * p, rtol=0, atol=1e-7)


@pytest.mark.parametrize("space", [Discrete(4), MultiDiscrete([3, 2])])
def test_sampled_actor_loss_has_the_exact_entropy_gradient(space):
    """Eq. 10's ``alpha E[log pi]`` with a Gumbel sample: when the critic cannot tell actions apart, the loss's
    gradient is exactly alpha times that of ``sum_a pi log pi`` (minus the entropy), not the zero-mean score of
    one sampled index (which left the policy unregularised: its entropy collapsed on GRF and air combat)."""
    h, batch = _agent_and_batch([space, Discrete(3)], "gumbel")
    h.critic.frozen_min_q = lambda features, action, start=0: action.sum(-1) * 0.0  # flat critic: no action gradient
    reps = [a.sample(batch["obs"][i]).rep.detach() for i, a in enumerate(h.actors)]
    loss, mean_logp = h.actor_loss(0, batch, reps)
    loss.backward()
    got = [p.grad.clone() for p in h.actors[0].parameters()]
    h.actors[0].zero_grad(set_to_none=True)
    z = h.actors[0].body(batch["obs"][0])
    sizes = [space.n] if isinstance(space, Discrete) else [int(k) for k in space.nvec]
    exact = sum((lp.exp() * lp).sum(-1) for lp in (torch.log_softmax(c, -1) for c in torch.split(z, sizes, -1)))
    (h.alphas()[0].detach() * exact.mean()).backward()
    torch.testing.assert_close(mean_logp, exact.mean().detach())
    for g, p in zip(got, h.actors[0].parameters()):
        torch.testing.assert_close(g, p.grad, rtol=1e-5, atol=1e-7)


def test_permutation_is_fresh_and_later_agents_see_new_actions():
    """Eq. 10: when agent i_m is updated, agents i_{1:m-1} act with actions sampled after their own step."""
    h, batch = _agent_and_batch([Discrete(3), Discrete(3), Discrete(3)], "gumbel")
    log = []
    for i, actor in enumerate(h.actors):
        orig = actor.sample

        def traced(obs, avail=None, _i=i, _orig=orig, _opt=h.actor_opts[i]):
            out = _orig(obs, avail)
            steps = _opt.state[next(iter(_opt.param_groups[0]["params"]))].get("step", torch.tensor(0.0))
            log.append((_i, out.rep, float(steps)))
            return out
        actor.sample = traced
    seen = []
    orig_loss = h.actor_loss

    def traced_loss(i, b, reps, own=None, features=None):
        seen.append((i, list(reps)))
        return orig_loss(i, b, reps, own, features)
    h.actor_loss = traced_loss
    perms = []
    for k in range(6):
        h.update(batch, np.random.default_rng(k))
        perms.append(h.last_order)
    assert len({tuple(p) for p in perms}) > 1 and all(sorted(p) == [0, 1, 2] for p in perms)
    def step_of(j, rep):
        """Optimiser step of agent j's actor when it sampled ``rep`` (same storage: a detached view)."""
        hits = [step for (a, r, step) in log if a == j and r.data_ptr() == rep.data_ptr()]
        assert len(hits) == 1, f"agent {j}'s action was not sampled once by agent {j}'s actor"
        return hits[0]

    # in the first update: earlier agents' actions come from their updated actors (after optimiser step 1),
    # later agents' from the old ones (step 0)
    first = seen[:3]
    for m, (i, reps) in enumerate(first):
        earlier = [k for k, _ in first[:m]]
        for j in range(3):
            if j != i:
                assert step_of(j, reps[j]) == (1.0 if j in earlier else 0.0), (m, i, j)


def test_parameter_sharing_uses_one_network():
    h, batch = _agent_and_batch([Discrete(3), Discrete(3)], share=True)
    assert h.actors[0] is h.actors[1] and len(h.actor_opts) == 1
    h.update(batch, np.random.default_rng(0))
    with pytest.raises(ValueError, match="share_params"):
        _agent_and_batch([Discrete(3), Discrete(4)], share=True)


def test_auto_alpha_moves_towards_the_target_entropy():
    h, batch = _agent_and_batch([Discrete(4)])
    h.target_entropy = [0.0]  # far below the near-uniform policy's entropy log 4: alpha must decrease
    a0 = h.alphas()[0].item()
    for k in range(5):
        h.update(batch, np.random.default_rng(k))
    assert h.alphas()[0].item() < a0


def _bandit_equilibrium_entropy(space: Box, updates: int = 1000) -> np.ndarray:
    """Entropies (tanh units) of a one-agent HASAC with auto alpha on a one-step task whose reward
    ``-4 |x - 0.3|^2`` depends on the squashed action ``x`` in [-1, 1]^2 only (the same task on any Box)."""
    torch.manual_seed(0)
    spec = EnvSpec("bandit", 1, (3,), 5, (space,), 1)
    h = HASAC(spec, HASACParams(hidden=(32,), batch_size=256, alpha_lr=3e-2, actor_lr=3e-3, critic_lr=3e-3,
                                precision="fp32"))
    B, rng, out = 256, np.random.default_rng(0), []
    obs, state = torch.ones(B, 3), torch.ones(B, 5)
    for k in range(updates):
        with torch.no_grad():
            s = h.actors[0].sample(obs)
        batch = {"state": state, "next_state": state, "obs": [obs], "next_obs": [obs], "avail": [None],
                 "next_avail": [None], "act": [s.stored], "reward_sum": -4 * ((s.stored - 0.3) ** 2).sum(-1),
                 "logp_sum": torch.zeros(B, 1), "disc": torch.zeros(B)}
        out.append(h.update(batch, rng)["entropy/0"])
    return np.array(out)


def test_auto_alpha_equilibrium_entropy_in_tanh_units_does_not_depend_on_the_box():
    """The target entropy -dim is measured in tanh units: the same task on Box(0, 1), Box(-1, 1) and Box(-0.4,
    0.4) trains the same policy (identical entropies: nothing in the update sees the bounds), which settles at
    the target -2.  Had the affine map's log-Jacobian entered ``logp`` (as it once did), Box(0, 1)'s policy would
    settle 2 log 2 nats higher in tanh units, Box(-0.4, 0.4)'s 2 log 2.5 higher."""
    runs = [_bandit_equilibrium_entropy(Box(lo, hi, (2,))) for lo, hi in ((0, 1), (-1, 1), (-0.4, 0.4))]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[2], runs[1])
    # alpha holds the entropy about the target: alpha and the policy oscillate around the equilibrium (a std of
    # about 0.55 nats over the last 500 updates, seeds fixed), whose mean is within 0.3 nats of -2: far from the
    # 1.39 and 1.83 nats by which the log-Jacobian would have shifted it
    assert abs(runs[1][-500:].mean() + 2.0) < 0.3, runs[1][-500:].mean()


def test_mixed_action_spaces_update_and_masked_expected_loss():
    h, batch = _agent_and_batch([MultiDiscrete([3, 2]), Discrete(4), Box(-1, 2, (3,))])
    m = torch.ones(32, 4, dtype=torch.bool)
    m[:, 3] = False
    batch["avail"][1] = batch["next_avail"][1] = m
    stats = h.update(batch, np.random.default_rng(0))
    assert all(np.isfinite(v) for k, v in stats.items() if k != "permutation")
    assert torch.all(h.actors[1].log_probs(batch["obs"][1], m).exp()[:, 3] == 0)


@pytest.mark.parametrize("loss, value_norm, share, masks", [
    ("expected", False, False, "random"), ("expected", True, False, "random"), ("gumbel", False, False, "random"),
    ("expected", False, True, "random"), ("expected", False, False, "none"), ("expected", True, True, "full")])
def test_update_equals_the_former_update_on_identical_batches(loss, value_norm, share, masks):
    """The incremental actors' phase (each agent's share of the critic's first layer computed once, the
    expectation over available actions only, or over every action at once where all are available, the
    sample's log-probabilities reused) against the former update (benchmarks/hasac_reference.py) from the
    same state, batches and random numbers, for three updates: the same losses, gradients and parameters.
    ``masks``: the Discrete agents' availability masks, random, none, or all actions available.  Tolerance:
    float32 sums of the first layer taken in another order (relative rounding ~1e-7 per value), carried
    through a few layers and three Adam steps."""
    from benchmarks import hasac_reference

    spaces = [Discrete(4)] * 3 if share else [Discrete(5), MultiDiscrete([3, 2]), Discrete(4), Box(-1, 2, (2,))]
    h, batch = _agent_and_batch(spaces, loss, B=64, share=share, value_norm=value_norm)
    g = torch.Generator().manual_seed(5)
    for i, sp in enumerate(spaces):
        if isinstance(sp, Discrete) and masks != "none":   # at least one available action per row
            m = torch.rand(64, sp.n, generator=g) < (0.5 if masks == "random" else 2.0)
            m[torch.arange(64), torch.randint(0, sp.n, (64,), generator=g)] = True
            batch["avail"][i] = batch["next_avail"][i] = m
            batch["act"][i] = torch.multinomial(m.float(), 1, generator=g).squeeze(1)
    ref = copy.deepcopy(h)
    for k in range(3):
        torch.manual_seed(100 + k)
        stats = h.update(batch, np.random.default_rng(k))
        torch.manual_seed(100 + k)
        ref_stats = hasac_reference.update(ref, batch, np.random.default_rng(k))
        assert h.last_order == ref.last_order
        for key, v in ref_stats.items():
            assert stats[key] == pytest.approx(v, rel=1e-5, abs=1e-6), key
        for p, q in zip([*h.critic.parameters(), *(x for a in h.unique for x in a.parameters())],
                        [*ref.critic.parameters(), *(x for a in ref.unique for x in a.parameters())]):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h.alphas(), ref.alphas(), rtol=1e-6, atol=0)
    for p, q in zip(h.critic_target.parameters(), ref.critic_target.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("hidden", [(16,), (16, 16), (8, 16, 8)])
def test_frozen_min_q_matches_autograd_through_min_q(hidden):
    """The actors' fast path: same values and action gradients as autograd through min(Q1, Q2), exactly."""
    torch.manual_seed(0)
    c = TwinCritic(7, 5, hidden).double()
    s = torch.randn(300, 7, dtype=torch.float64)
    a = torch.randn(300, 5, dtype=torch.float64, requires_grad=True)
    w = torch.rand(300, dtype=torch.float64)  # a weighted loss, so each row's gradient is checked
    ref = c.min_q(s, a)
    g_ref, = torch.autograd.grad((w * ref).sum(), a)
    a2 = a.detach().clone().requires_grad_(True)
    out = c.frozen_min_q(c.state_features(s), a2)
    g, = torch.autograd.grad((w * out).sum(), a2)
    q1, q2 = c(s, a)
    assert bool((q1 < q2).any()) and bool((q2 < q1).any())  # both networks attain the minimum somewhere
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-12)
    assert all(p.grad is None for p in c.parameters())


def test_min_q_each_action_is_min_q_at_every_one_hot_action():
    """The exact expectation's critic values: min(Q1, Q2) with one agent's block (columns 2:5 of the joint
    action) set to each one-hot action, the other blocks given, as autograd's ``min_q`` computes them."""
    torch.manual_seed(0)
    c = TwinCritic(7, 6, (16, 16)).double()
    s, a = torch.randn(300, 7, dtype=torch.float64), torch.randn(300, 6, dtype=torch.float64)
    features = tuple(f + g + h for f, g, h in zip(c.state_features(s), c.action_features(a[:, :2], 0),
                                                  c.action_features(a[:, 5:], 5)))
    q = c.min_q_each_action(features, 2, 3)
    for k in range(3):
        joint = a.clone()
        joint[:, 2:5] = F.one_hot(torch.full((300,), k), 3)
        torch.testing.assert_close(q[:, k], c.min_q(s, joint), rtol=0, atol=1e-12)


def test_bf16_mlp_rounds_its_hidden_layers_only():
    """precision bf16: hidden layers under bf16 autocast; output layer, output and gradients float32."""
    torch.manual_seed(0)
    net, x = mlp(7, (64, 64), 3), torch.randn(256, 7)
    ref = net(x).detach()
    out = set_precision(net, "bf16")(x)
    assert out.dtype == torch.float32 and not torch.equal(out, ref)  # bf16 is in effect
    # bf16 keeps 8 significant bits (relative rounding 2^-9 per operand): through two 64-wide layers the
    # outputs move by well under 3% of their scale
    assert float((out.detach() - ref).abs().max()) <= 0.03 * float(ref.abs().max())
    assert not torch.equal(out, out.bfloat16().float())  # the float32 output layer: not rounded to bf16
    out.sum().backward()
    assert all(p.grad.dtype == torch.float32 and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, auto, not 'fp16'"):
        set_precision(net, "fp16")


def test_bf16_frozen_min_q_follows_autograd_through_min_q():
    """The actors' fast path under bf16 (its hand-written backward in bf16 too) against autograd through
    the bf16 ``min_q``: the same values and action gradients up to bf16 rounding."""
    torch.manual_seed(0)
    c = TwinCritic(7, 5, (64, 64), "bf16")
    s, a = torch.randn(500, 7), torch.randn(500, 5, requires_grad=True)
    ref = c.min_q(s, a)
    g_ref, = torch.autograd.grad(ref.sum(), a)
    a2 = a.detach().clone().requires_grad_(True)
    out = c.frozen_min_q(c.state_features(s), a2)
    g, = torch.autograd.grad(out.sum(), a2)
    ref = ref.detach()
    assert out.dtype == g.dtype == torch.float32
    # both round to bf16's 8 significant bits at different points (the state features are summed apart):
    # the values agree to well under 3% of their scale ...
    scale = float(ref.abs().max())
    assert float((out.detach() - ref).abs().max()) <= 0.03 * scale
    # ... and so do the gradients, except on the few rows where a rounding difference flips a hidden unit's
    # ReLU (a pre-activation within rounding of 0) or which network attains the minimum
    close = ((g - g_ref).abs() <= 0.01 * float(g_ref.abs().max())).all(1)
    assert float(close.float().mean()) > 0.9
    assert float((g - g_ref).norm()) <= 0.1 * float(g_ref.norm())


def test_bf16_update_keeps_fp32_state_and_follows_the_fp32_update():
    """precision=bf16: the same update as fp32 up to bf16 rounding of the actors' and critics' hidden layers,
    with float32 weights, optimiser state, targets and losses; and the same run twice from the same seed."""
    spaces = [Discrete(4), Box(-1, 2, (3,))]
    runs = {}
    for precision, key in (("fp32", "fp32"), ("bf16", "bf16"), ("bf16", "bf16 again")):
        h, batch = _agent_and_batch(spaces, B=512, hidden=(64, 64), precision=precision)
        assert all(m.bf16 == (precision == "bf16") for net in (h.critic, h.critic_target, *h.unique)
                   for m in net.modules() if isinstance(m, MLP))
        trained = [*h.critic.parameters(), *(p for a in h.unique for p in a.parameters())]
        before = [p.detach().clone() for p in trained]
        torch.manual_seed(2)
        losses = {k: float(v.detach()) for k, v in h.losses(batch).items()}
        torch.manual_seed(3)
        stats = h.update(batch, np.random.default_rng(0))
        assert all(np.isfinite(v) for v in stats.values())
        tensors = [*h.critic.parameters(), *h.critic_target.parameters(), *(p for a in h.unique for p in a.parameters()),
                   *(t for o in [h.critic_opt, *h.actor_opts] for st in o.state.values() for t in st.values())]
        assert all(t.dtype == torch.float32 for t in tensors)
        steps = [(p.detach() - b).flatten() for p, b in zip(trained, before)]
        n_critic = len(list(h.critic.parameters()))
        runs[key] = losses, stats, (torch.cat(steps[:n_critic]), torch.cat(steps[n_critic:]))
    (l32, s32, d32), (l16, s16, d16) = runs["fp32"], runs["bf16"]
    untimed = [k for k in s16 if not k.startswith("time_")]
    assert [runs["bf16 again"][1][k] for k in untimed] == [s16[k] for k in untimed]
    assert all(map(torch.equal, runs["bf16 again"][2], d16))
    # bf16 keeps 8 significant bits (relative rounding 2^-9 per operand); through two 64-wide layers the
    # critic's values move by well under 2%, the losses (squared errors, log-probability terms) by under 5%.
    assert l16["critic"] != l32["critic"]  # bf16 is in effect
    for k in l32:
        assert abs(l16[k] - l32[k]) <= 0.05 * abs(l32[k]) + 1e-3, (k, l16[k], l32[k])
    assert abs(s16["q1_mean"] - s32["q1_mean"]) <= 0.02 * abs(s32["q1_mean"]) + 1e-3
    # Adam's first step is lr * sign(gradient): bf16 changes the sign only where a gradient is near zero
    for critic_or_actors16, critic_or_actors32 in zip(d16, d32):
        agree = (torch.sign(critic_or_actors16) == torch.sign(critic_or_actors32)).float().mean()
        assert float(agree) > 0.95


# ---------------------------------------------------------------- ValueNorm
def test_value_norm_statistics_match_numpy_on_a_known_stream():
    """The reference code's beta (0.99999) over 40 batches of unequal sizes: after k updates the statistics
    are the w-weighted means of the batch means of x and x^2, w_j = beta^(k-j) (1 - beta), normalised by
    sum w_j (the debiasing term); float64 throughout, so they agree with numpy to 1e-12."""
    from deep.nets.value_norm import ValueNorm
    rng = np.random.default_rng(7)
    stream = [rng.normal(3.0 + 0.1 * j, 2.0, size=int(rng.integers(5, 200))) for j in range(40)]
    vn = ValueNorm()
    assert vn.beta == 0.99999  # HARL's ValueNorm default
    for x in stream:
        vn.update(torch.as_tensor(x, dtype=torch.float32))
    xs = [x.astype(np.float32).astype(np.float64) for x in stream]
    w = vn.beta ** np.arange(len(xs) - 1, -1, -1) * (1 - vn.beta)
    mean = w @ [x.mean() for x in xs] / w.sum()
    var = w @ [(x ** 2).mean() for x in xs] / w.sum() - mean ** 2
    got_mean, got_var = vn.stats()
    assert float(got_mean) == pytest.approx(mean, rel=1e-12) and float(got_var) == pytest.approx(var, rel=1e-12)
    y = np.array([-4.0, 0.0, 2.5, 30.0])
    np.testing.assert_allclose(vn.normalize(torch.tensor(y)).numpy(), (y - mean) / np.sqrt(var), rtol=1e-12)
    constant = ValueNorm()
    constant.update(torch.full((10,), 5.0))
    assert float(constant.stats()[1]) == 1e-2  # a variance below 1e-2 is floored there (HARL)


def _value_norm_twin(spaces, loss):
    """A plain HASAC and one with ValueNorm whose statistics are mean 5, std 3 and whose critics are the
    plain critics re-expressed in normalised units (last layer ``(W h + b - mean) / std``): in return units
    both hold the same Q functions.  Returns them, the batch and the std."""
    h, batch = _agent_and_batch(spaces, loss)
    hv, _ = _agent_and_batch(spaces, loss, value_norm=True)
    hv.value_norm.update(torch.tensor([2.0, 8.0], dtype=torch.float64))
    mean, var = (float(v) for v in hv.value_norm.stats())
    std = var ** 0.5
    assert mean == pytest.approx(5.0, rel=1e-9) and std == pytest.approx(3.0, rel=1e-9)
    with torch.no_grad():
        for net in (hv.critic, hv.critic_target):
            for q in (net.q1, net.q2):
                last = [l for l in q if isinstance(l, torch.nn.Linear)][-1]
                last.weight.div_(std)
                last.bias.sub_(mean).div_(std)
    return h, hv, batch, std


@pytest.mark.parametrize("loss", ["expected", "gumbel"])
def test_value_norm_keeps_targets_and_actor_losses_in_return_units(loss):
    """With the same Q functions in return units, ValueNorm changes nothing but the critic's regression
    units: the soft Bellman targets, the denormalised critic statistics and every actor loss and gradient
    agree with the plain HASAC's, and the critic loss is the plain one in normalised units (MSE / std^2).
    Tolerance: float32 networks on values of size ~10, one extra affine map: 1e-6 relative (1e-5 for the
    actor gradients, a sum over the batch)."""
    h, hv, batch, std = _value_norm_twin([Discrete(3), Box(0, 1, (2,))], loss)
    torch.manual_seed(11)
    y = h.critic_target_values(batch)
    torch.manual_seed(11)
    yv = hv.critic_target_values(batch)
    torch.testing.assert_close(yv, y, rtol=1e-6, atol=1e-6)
    loss_plain, stats = h.critic_loss(batch, y)
    loss_norm, stats_v = hv.critic_loss(batch, y)
    assert float(loss_norm.detach()) * std ** 2 == pytest.approx(float(loss_plain.detach()), rel=1e-5)
    for k in stats:
        assert float(stats_v[k]) == pytest.approx(float(stats[k].detach()), rel=1e-6, abs=1e-6), k
    with torch.no_grad():
        reps = [a.sample(batch["obs"][i]).rep for i, a in enumerate(h.actors)]
    for i in range(2):
        for algo in (h, hv):
            algo.actors[i].zero_grad(set_to_none=True)
        torch.manual_seed(12)
        a_loss, _ = h.actor_loss(i, batch, reps)
        torch.manual_seed(12)
        a_loss_v, _ = hv.actor_loss(i, batch, reps)
        assert float(a_loss_v) == pytest.approx(float(a_loss), rel=1e-6, abs=1e-6)
        a_loss.backward()
        a_loss_v.backward()
        for p, pv in zip(h.actors[i].parameters(), hv.actors[i].parameters()):
            torch.testing.assert_close(pv.grad, p.grad, rtol=1e-5, atol=1e-6)


def test_value_norm_update_folds_its_targets_in_before_normalising_them():
    """The reference code's order: the update's targets (return units) enter the statistics first (after one
    update, exactly their mean and variance: debiasing), and the critic regresses on them normalised."""
    _, hv, batch, _ = _value_norm_twin([Discrete(3), Discrete(4)], "expected")
    fresh, _ = _agent_and_batch([Discrete(3), Discrete(4)], "expected", value_norm=True)
    fresh.load_state_dict(hv.state_dict())
    fresh.value_norm.debias.zero_()
    fresh.value_norm.mean.zero_()
    fresh.value_norm.mean_sq.zero_()
    critic = copy.deepcopy(fresh.critic)
    torch.manual_seed(3)
    y = fresh.critic_target_values(batch)
    torch.manual_seed(3)
    stats = fresh.update(batch, np.random.default_rng(0))
    mean, var = fresh.value_norm.stats()
    assert float(mean) == pytest.approx(float(y.double().mean()), rel=1e-9)
    assert float(var) == pytest.approx(float(y.double().var(unbiased=False)), rel=1e-6)
    assert stats["target_mean"] == pytest.approx(float(y.mean()), rel=1e-6)
    joint = torch.cat([a.rep_of(act) for a, act in zip(fresh.actors, batch["act"])], -1)
    with torch.no_grad():   # the loss of the step: the critic before it, on targets normalised by the new statistics
        expected, _ = critic.loss(batch["state"], joint, (y - float(mean)) / float(var) ** 0.5, "mse")
    assert stats["critic_loss"] == pytest.approx(float(expected), rel=1e-5)
    restored, _ = _agent_and_batch([Discrete(3), Discrete(4)], "expected", value_norm=True)
    restored.load_state_dict(fresh.state_dict())  # the statistics are checkpointed state
    assert all(torch.equal(a, b) for a, b in zip(restored.value_norm.stats(), fresh.value_norm.stats()))


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_exactly_where_the_cpu_has_native_bf16(native, monkeypatch):
    """``auto`` (HASAC's default; its tabular configs pin fp32) follows deep.nets.mlp.native_bf16."""
    import deep.nets.mlp as mlp_module
    from deep.algos.hasac import HASACParams
    from deep.algos.sac import SACParams
    monkeypatch.setattr(mlp_module, "native_bf16", lambda: native)
    assert set_precision(mlp(4, (8,), 2), "auto").bf16 is native
    assert set_precision(mlp(4, (8,), 2), "fp32").bf16 is False
    assert HASACParams().precision == "auto" and SACParams().precision == "fp32"
    h, _ = _agent_and_batch([Box(-1, 1, (2,))] * 2, precision="auto")
    assert all(m.bf16 is native for net in (h.critic, *h.unique) for m in net.modules() if isinstance(m, MLP))
