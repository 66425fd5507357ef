"""Loading a MANO pickle without chumpy, on a small fabricated model."""

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from gsdf_ros.hand.mano import MANO_TIP_VERTICES, load_mano_template, mano_template_joints


def fake_ch_class() -> type:
    """A class that pickles like chumpy's ``chumpy.ch.Ch``: the array lives in its state under 'x'."""

    def init(self, x: np.ndarray) -> None:
        self.x = x

    return type("Ch", (), {"__module__": "chumpy.ch", "__qualname__": "Ch", "__init__": init})


def write_fake_mano(path, monkeypatch, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    vertices = rng.normal(scale=0.05, size=(778, 3))
    regressor = np.zeros((16, 778))
    for j in range(16):
        idx = rng.choice(778, size=4, replace=False)
        regressor[j, idx] = 0.25
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")
    chumpy_ch.Ch = fake_ch = fake_ch_class()
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "chumpy", chumpy)
        m.setitem(sys.modules, "chumpy.ch", chumpy_ch)
        model = {
            "v_template": fake_ch(vertices),
            "J_regressor": scipy.sparse.csc_matrix(regressor),
            "shapedirs": fake_ch(np.zeros((778, 3, 10))),
            "kintree_table": np.zeros((2, 16), dtype=np.int64),
        }
        with open(path, "wb") as fh:
            pickle.dump(model, fh, protocol=2)
    return vertices, regressor


def test_load_fabricated_mano_without_chumpy(tmp_path, monkeypatch):
    vertices, regressor = write_fake_mano(tmp_path / "MANO_RIGHT.pkl", monkeypatch, np.random.default_rng(0))
    assert "chumpy" not in sys.modules
    template = load_mano_template(tmp_path / "MANO_RIGHT.pkl")
    mano = np.concatenate([regressor @ vertices, vertices[list(MANO_TIP_VERTICES)]])
    expected = mano - mano[0]
    j = template.joints
    np.testing.assert_allclose(j[0], 0.0)
    np.testing.assert_allclose(j[1:4], expected[13:16])  # thumb 1-3 are MANO 13-15
    np.testing.assert_allclose(j[4], expected[16])  # thumb tip, vertex 745
    np.testing.assert_allclose(j[5:8], expected[1:4])  # index
    np.testing.assert_allclose(j[9:12], expected[4:7])  # middle
    np.testing.assert_allclose(j[13:16], expected[10:13])  # ring is MANO 10-12
    np.testing.assert_allclose(j[17:20], expected[7:10])  # little is MANO 7-9
    np.testing.assert_allclose(j[[8, 12, 16, 20]], vertices[[317, 444, 556, 673]] - mano[0])


def test_bad_models_raise(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        mano_template_joints({"v_template": np.zeros((778, 3))})
    with pytest.raises(ValueError, match="v_template"):
        mano_template_joints({"v_template": np.zeros((10, 3)), "J_regressor": np.zeros((16, 778))})
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="dictionary"):
        load_mano_template(path)
