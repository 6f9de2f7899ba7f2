"""The training loop's parts: KL schedule, gradient normalisation, early stopping, the loop."""

import pytest
import torch
from torch import nn

from skexvae._training import EarlyStopping, kl_weight, normalize_gradients, train


@pytest.mark.parametrize(
    ("warmup", "weights"),
    [(0, [1.0, 1.0, 1.0]), (1, [1.0, 1.0, 1.0]), (4, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0])],
)
def test_kl_weight_rises_linearly_over_the_warmup_then_stays_at_one(warmup, weights):
    assert [kl_weight(epoch, warmup) for epoch in range(len(weights))] == weights


def test_normalize_gradients_gives_each_tensor_unit_norm_in_the_same_direction():
    a = nn.Parameter(torch.zeros(3))
    b = nn.Parameter(torch.zeros(2, 2))
    untouched = nn.Parameter(torch.zeros(2))
    a.grad = torch.tensor([3.0, 0.0, 4.0])
    b.grad = torch.full((2, 2), 0.01)
    normalize_gradients([a, b, untouched])
    torch.testing.assert_close(a.grad, torch.tensor([0.6, 0.0, 0.8]))
    torch.testing.assert_close(b.grad, torch.full((2, 2), 0.5))
    assert untouched.grad is None


def test_normalize_gradients_leaves_a_zero_gradient_finite():
    p = nn.Parameter(torch.zeros(4))
    p.grad = torch.zeros(4)
    normalize_gradients([p])
    assert torch.equal(p.grad, torch.zeros(4))


def test_early_stopping_keeps_a_copy_of_the_best_weights_and_counts_patience():
    module = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    assert not stopper.update(1.0, module)
    with torch.no_grad():
        module.weight.fill_(7.0)
    assert not stopper.update(3.0, module)
    with torch.no_grad():
        module.weight.fill_(-1.0)  # the kept weights are a copy, not the live tensor
    assert not stopper.update(2.0, module)  # one epoch without improvement
    assert stopper.update(3.0, module)  # a tie is no improvement: second bad epoch
    assert stopper.best_score == 3.0
    assert torch.equal(stopper.best_state["weight"], torch.full((1, 2), 7.0))


def _quadratic_problem():
    """A one-weight module pulled towards 1 by its loss: ``(w - 1)^2``."""
    module = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        module.weight.zero_()

    def step_loss(batch, beta):
        loss = (module.weight - 1.0).pow(2).sum()
        return loss, loss.detach(), torch.tensor(beta)

    return module, step_loss


def test_train_follows_the_kl_schedule_from_its_first_epoch_and_reports_each_epoch():
    module, step_loss = _quadratic_problem()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    reports = []
    history = train(
        module,
        optimizer,
        lambda epoch: range(3),
        step_loss,
        max_iter=3,
        first_epoch=2,
        kl_warmup=4,
        report=reports.append,
    )
    assert [h.epoch for h in history] == [2, 3, 4]
    assert [h.beta for h in history] == [0.75, 1.0, 1.0]
    assert [h.kl for h in history] == pytest.approx([0.75, 1.0, 1.0])  # mean of the steps'
    assert reports == history
    # Normalised gradients: each step moves the weight by exactly lr towards 1.
    assert module.weight.item() == pytest.approx(0.9)
    assert not module.training


def test_train_stops_after_patience_and_restores_the_best_weights():
    module, step_loss = _quadratic_problem()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    scores = iter([1.0, 5.0, 2.0, 2.0, 9.0])
    weights = []

    def validate():
        weights.append(module.weight.item())
        return next(scores)

    history = train(
        module,
        optimizer,
        lambda epoch: range(1),
        step_loss,
        max_iter=5,
        kl_warmup=0,
        validate=validate,
        n_iter_no_change=2,
    )
    assert [h.validation_score for h in history] == [1.0, 5.0, 2.0, 2.0]
    # The weights at the best epoch (the second), not the last trained ones.
    assert weights[1] == pytest.approx(0.2) and weights[-1] == pytest.approx(0.4)
    assert module.weight.item() == pytest.approx(weights[1])
