"""seminas.Predictor (ranking quality on NB201, save/load, generation, bad input) and
seminas.MobileSpace."""

import itertools
import random

import pytest

import seminas

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def nb201_cells():
    """All 15,625 NB201 cell strings, in a fixed order."""
    return ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops) for ops in itertools.product(OPS, repeat=6)]


def test_kendall_tau_of_known_rankings():
    assert seminas.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert seminas.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # 5 concordant pairs, 1 discordant: (5 - 1) / 6.
    assert seminas.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


@pytest.fixture(scope="module")
def data():
    """100 training and 1,000 held-out NB201 cells with their validation accuracy."""
    table = seminas.benchmarks.nb201()
    cells = random.Random(0).sample(nb201_cells(), 1100)
    acc = [table.query(c)["objective"] for c in cells]
    return cells[:100], acc[:100], cells[100:], acc[100:]


@pytest.fixture(scope="module")
def fitted(data):
    train, train_acc, _, _ = data
    return seminas.Predictor(seminas.NB201Space(), seed=0).fit(train, train_acc, unlabeled=10000)


def test_fitted_on_100_cells_it_ranks_1000_held_out_cells(data, fitted, capsys):
    _, _, held, held_acc = data
    pred = fitted.predict(held)
    assert isinstance(pred, list) and len(pred) == 1000
    tau = seminas.kendall_tau(pred, held_acc)
    with capsys.disabled():  # shown in CI's log even when the test passes
        print(f"\nKendall tau on 1,000 held-out NB201 cells (fit on 100): {tau:.3f}")
    assert tau > 0.5
    # Predictions come back in the targets' units (validation accuracy, %).
    assert 60 < sum(pred) / len(pred) < 92


def test_save_and_load_give_identical_predictions(tmp_path, data, fitted):
    _, _, held, _ = data
    path = tmp_path / "nb201.safetensors"
    fitted.save(str(path))
    loaded = seminas.Predictor.load(str(path))  # the space is read from the file
    assert isinstance(loaded.space, seminas.NB201Space)
    assert loaded.predict(held) == fitted.predict(held)
    assert loaded.has_scale
    with pytest.raises(ValueError, match="nb101"):
        seminas.Predictor.load(str(path), space=seminas.NB101Space())


def test_the_same_seed_fits_the_same_predictor(data):
    train, train_acc, held, _ = data
    fit = lambda seed: seminas.Predictor(seminas.NB201Space(), seed=seed, pretrain_epochs=20,
                                         train_epochs=2).fit(train, train_acc, unlabeled=500)
    a, b, c = fit(1), fit(1), fit(2)
    assert a.predict(held[:50]) == b.predict(held[:50])
    assert a.predict(held[:50]) != c.predict(held[:50])


def test_generation_moves_up_the_predictor(data, fitted):
    train, train_acc, _, _ = data
    best = sorted(zip(train_acc, train), reverse=True)[:10]
    start = [c for _, c in best]
    new = fitted.generate(start, step=5.0)
    assert len(new) == 10 and all(isinstance(c, str) for c in new)
    # Cells decoded after a step up are predicted better on average than where they started.
    assert sum(fitted.predict(new)) > sum(fitted.predict(start))


def test_given_unlabeled_architectures_and_numpy(data):
    np = pytest.importorskip("numpy")
    train, train_acc, held, _ = data
    p = seminas.Predictor(seminas.NB201Space(), pretrain_epochs=5, train_epochs=1)
    p.fit(np.array(train), np.array(train_acc), unlabeled=held[:200])
    out = p.predict(np.array(held[:5]))
    assert isinstance(out, np.ndarray) and out.shape == (5,)
    p.fit(train[:3], [np.int64(1), np.float32(2.5), 3], unlabeled=0)


def test_a_run_directory_s_controller_loads(tmp_path):
    from test_study import seminas_cli
    import subprocess

    out = tmp_path / "run"
    subprocess.run([seminas_cli(), "search", "--algo", "seminas", "--queries", "20", "--out", str(out)],
                   check=True, capture_output=True)
    p = seminas.Predictor.load(str(out))
    assert isinstance(p.space, seminas.NB201Space) and not p.has_scale
    assert len(p.predict(nb201_cells()[:3])) == 3


def test_bad_input_raises(data):
    train, train_acc, _, _ = data
    p = seminas.Predictor(seminas.NB201Space())
    with pytest.raises(ValueError, match="not fitted"):
        p.predict(train[:2])
    with pytest.raises(ValueError, match="100 architectures but 99 targets"):
        p.fit(train, train_acc[:99])
    with pytest.raises(ValueError, match="target 0 is NaN"):
        p.fit(train[:3], [float("nan"), 1.0, 2.0])
    with pytest.raises(ValueError, match="architecture 1"):
        p.fit([train[0], "|conv~0|+|"], [1.0, 2.0])
    with pytest.raises(ValueError, match="unknown field"):
        seminas.Predictor(seminas.NB201Space(), epochs=3)
    with pytest.raises(ValueError, match="a list of architectures"):
        p.predict(train[0])


def test_mobile_space_archs_are_lists_and_the_limit_holds():
    space = seminas.MobileSpace(max_mflops=600)
    study = seminas.Study(space, algo="random", budget=5, seed=0)
    archs = []
    while (trial := study.ask()) is not None:
        assert isinstance(trial.arch, list) and len(trial.arch) == 21
        d = space.describe(trial.arch)
        assert d["mflops"] <= 600
        archs.append(trial.arch)
        study.tell(trial, d["mflops"])
    assert study.best["arch"] in archs
    unlimited = seminas.MobileSpace()
    heavy = ["k7e6"] * 21
    assert unlimited.validate(heavy) == heavy
    with pytest.raises(ValueError, match="600"):
        space.validate(heavy)
    with pytest.raises(ValueError, match="zero"):
        unlimited.validate(["zero"] + ["k3e3"] * 20)
    with pytest.raises(ValueError, match="list of operation names"):
        unlimited.validate("k3e3")


def test_a_mobile_predictor_generates_lists(tmp_path):
    space = seminas.MobileSpace(max_mflops=600)
    study = seminas.Study(space, algo="random", budget=30, seed=1)
    archs, costs = [], []
    while (trial := study.ask()) is not None:
        archs.append(trial.arch)
        costs.append(space.describe(trial.arch)["mflops"])
        study.tell(trial, costs[-1])
    p = seminas.Predictor(space, seed=0, pretrain_epochs=10, train_epochs=1).fit(archs, costs, unlabeled=50)
    new = p.generate(archs[:5], step=1.0)
    assert len(new) == 5 and all(g is None or (isinstance(g, list) and len(g) == 21) for g in new)
    path = tmp_path / "mobile.safetensors"
    p.save(str(path))
    with pytest.raises(ValueError, match="give it as space"):
        seminas.Predictor.load(str(path))  # a limited space cannot be guessed: give it
    q = seminas.Predictor.load(str(path), space=space)
    assert q.predict(archs[:3]) == p.predict(archs[:3])


def test_kendall_tau_refuses_lists_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        seminas.kendall_tau([1, 2, 3], [1, 2])
