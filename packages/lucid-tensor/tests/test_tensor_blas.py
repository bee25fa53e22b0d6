"""The optimised BLAS that ``import lucid`` gives MLX on Linux (lucid._blas, lucid._elf),
and only MLX: nothing of it reaches the global symbol scope, where PyTorch would bind to it.

Each check that depends on import order runs in a fresh interpreter.
"""

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest
from lucid import _blas, _elf

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
x86_64 = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the OpenBLAS wheel is for x86-64 Linux"
)


def run(code: str, **env) -> tuple[dict, str]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", _blas.OPT_OUT_VAR)}
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, env=full_env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


REPORT = """
    import json, os
    import numpy as np
    a = np.random.default_rng(0).standard_normal((96, 80)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((80, 64)).astype(np.float32)
    got = (lucid.tensor(a) @ lucid.tensor(b)).numpy()
    import mlx.core as mx  # LAPACK calls resolve to the same library
    sq = a[:64, :64] + 8 * np.eye(64, dtype=np.float32)
    inv = np.array(mx.linalg.inv(mx.array(sq), stream=mx.cpu))
    maps = open("/proc/self/maps").read()
    print(json.dumps({
        "info": lucid.blas_info(),
        "resolves_to": lucid._blas.global_sgemm(),
        "mapped": "/libopenblas" in maps,  # numpy maps its own libscipy_openblas
        "reference_mapped": "mlx_cpu.libs/libblas" in maps or "mlx_cpu.libs/liblapack" in maps,
        "matmul_ok": bool(np.allclose(got, a @ b, rtol=1e-4, atol=1e-4)),
        "inverse_ok": bool(np.allclose(inv @ sq, np.eye(64), atol=1e-4)),
        "cpus": len(os.sched_getaffinity(0)),
    }))
"""


@linux
@x86_64
def test_import_lucid_loads_openblas_for_mlx():
    out, _ = run("import lucid\n" + textwrap.dedent(REPORT))
    info = out["info"]
    assert info["status"] == "loaded", info
    assert "openblas" in os.path.basename(info["path"])
    assert out["mapped"] and not out["reference_mapped"]
    assert os.path.realpath(info["mlx_sgemm"]) == os.path.realpath(info["path"])
    assert out["resolves_to"] is None and info["global_sgemm"] is None  # not in global scope
    assert sorted(n.split("-")[0] for n in info["aliases"]) == ["libblas", "liblapack"]
    assert info["config"].startswith("OpenBLAS")
    assert 1 <= info["threads"] <= out["cpus"]  # one pool, never more threads than cores
    assert out["matmul_ok"] and out["inverse_ok"]


@linux
@x86_64
def test_set_num_threads():
    out, _ = run("""
        import json, lucid
        lucid.set_num_threads(1)  # loads the engine, then sets OpenBLAS's pool
        one = lucid.get_num_threads()
        x = lucid.ones(64, 64)
        total = float((x @ x).sum().item())
        print(json.dumps({"one": one, "total": total}))
    """)
    assert out == {"one": 1, "total": 64.0**3}


@linux
def test_mlx_imported_first_warns():
    out, err = run("import warnings\nwarnings.simplefilter('always')\nimport mlx.core\n"
                   "import lucid\n" + textwrap.dedent(REPORT))
    assert out["info"]["status"] == "mlx.core was imported before lucid"
    assert "RuntimeWarning" in err and "Import lucid first" in err
    assert not out["mapped"] and out["reference_mapped"]
    assert out["matmul_ok"]


@linux
def test_opt_out_env_var_keeps_mlx_blas():
    out, err = run("import lucid\n" + textwrap.dedent(REPORT), LUCID_NO_OPENBLAS="1")
    assert out["info"]["status"] == "disabled by LUCID_NO_OPENBLAS"
    assert out["info"]["path"] is None and out["info"]["threads"] is None
    assert not out["mapped"] and out["resolves_to"] is None
    assert out["matmul_ok"]
    assert "RuntimeWarning" not in err


@linux
@x86_64
def test_bundled_gfortran_copy_is_loaded_under_its_real_soname():
    out, _ = run("""
        import ctypes, json
        import lucid
        from lucid import _blas, _elf
        src = _blas._gfortran_copies()[0]
        _elf.load_as(src, _blas.GFORTRAN)
        ctypes.CDLL(_blas.GFORTRAN)  # the dynamic linker now finds it by that name
        maps = open("/proc/self/maps").read()
        print(json.dumps({"src": src, "memfd": "memfd:" + _blas.GFORTRAN in maps}))
    """, LUCID_NO_OPENBLAS="1")
    assert "libgfortran-" in out["src"]
    assert out["memfd"]


@linux
@x86_64
def test_elf_dynamic_reader_finds_soname_and_needed():
    src = _blas._gfortran_copies()[0]
    with open(src, "rb") as f:
        data = f.read()
    soname, needed = _elf.dynamic(data)
    assert _elf.cstring(data, soname) == os.path.basename(src)
    names = [_elf.cstring(data, pos) for pos in needed]
    assert "libc.so.6" in names and any(n.startswith("libquadmath") for n in names)
    with pytest.raises(ValueError, match="ELF"):
        _elf.dynamic(b"not an elf file at all" * 4)


def test_single_target_build_is_skipped_on_a_cpu_without_its_features(tmp_path, monkeypatch):
    (tmp_path / "pkgconfig").mkdir()
    pc = tmp_path / "pkgconfig" / "openblas.pc"
    lib = str(tmp_path / "libopenblas.so.0")
    pc.write_text("openblas_config=DYNAMIC_ARCH=OFF NO_AFFINITY=ON SKYLAKEX MAX_THREADS=4\n")
    monkeypatch.setattr(_blas, "_cpu_flags", lambda: {"sse2", "avx2"})
    reason = _blas._unsupported(lib)
    assert reason is not None and "avx512f" in reason and "SKYLAKEX" in reason
    monkeypatch.setattr(_blas, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert _blas._unsupported(lib) is None
    monkeypatch.setattr(_blas, "_cpu_flags", lambda: set())
    pc.write_text("openblas_config=DYNAMIC_ARCH=ON NO_AFFINITY=ON SKYLAKEX MAX_THREADS=64\n")
    assert _blas._unsupported(lib) is None
    assert _blas._unsupported("libopenblas.so.0") is None


def test_info_reports_status_and_measures_on_request():
    import lucid

    lucid.zeros(1)  # the engine loads on first use
    info = _blas.info()
    assert {"status", "path", "gfortran", "threads", "config"} <= set(info)
    assert isinstance(info["status"], str) and info["status"] != "not attempted"
    measured = _blas.info(measure=True)
    assert measured["sgemm_gflops"] > 0


@linux
@x86_64
def test_alias_image_names_itself_and_its_target(tmp_path):
    image = _elf.alias_image("libblas-0123abcd.so.3", "libc.so.6", 62)
    path = tmp_path / "alias.so"
    path.write_bytes(image)
    assert _elf.read_names(str(path)) == ("libblas-0123abcd.so.3", ["libc.so.6"])
    assert _elf.machine(str(path)) == 62
    out, _ = run(f"""
        import ctypes, json
        ctypes.CDLL({str(path)!r})
        lib = ctypes.CDLL("libblas-0123abcd.so.3")  # found by its SONAME, already loaded
        print(json.dumps({{"strlen": lib.strlen(b"four") if hasattr(lib, "strlen") else None}}))
    """)
    assert out["strlen"] == 4  # symbols come from the target, through the alias


@linux
def test_import_lucid_data_loads_no_engine():
    """``import lucid.data``/``lucid.datasets`` load NumPy only: no MLX, no OpenBLAS, no
    engine module, also with every Lucid package installed."""
    out, _ = run("""
        import json, sys
        import numpy as np
        import lucid.data, lucid.datasets
        from lucid.data import DataLoader
        batches = list(DataLoader(np.arange(20).reshape(10, 2), batch_size=4, shuffle=True,
                                  seed=1))
        maps = open("/proc/self/maps").read()
        print(json.dumps({
            "modules": sorted(m for m in sys.modules
                              if m.split(".")[0] == "mlx" or m in ("lucid._engine",
                                                                   "lucid._tensor")),
            "libs": [name for name in ("libmlx", "/libopenblas", "mlx_cpu.libs", "memfd:lib")
                     if name in maps],
            "batches": len(batches),
        }))
    """)
    assert out == {"modules": [], "libs": [], "batches": 3}


@linux
@x86_64
def test_engine_loads_on_first_use_and_names_stay_public():
    out, _ = run("""
        import json, sys
        import lucid
        before = "mlx.core" in sys.modules
        t = lucid.tensor([1.0, 2.0])
        print(json.dumps({"before": before, "after": "mlx.core" in sys.modules,
                          "type": type(t).__name__, "is_class": lucid.Tensor is type(t),
                          "status": lucid.blas_info()["status"],
                          "has_tensor_fn": callable(lucid.tensor) and "tensor" in dir(lucid)}))
    """)
    assert out == {"before": False, "after": True, "type": "Tensor", "is_class": True,
                   "status": "loaded", "has_tensor_fn": True}


@linux
@x86_64
def test_pytorch_binds_its_own_blas_after_lucid(tmp_path):
    """The mechanism of issue 'Lucid slows PyTorch': with Lucid imported and used first,
    the dynamic linker binds PyTorch's ``sgemm_`` to PyTorch's own library, MLX's
    ``cblas_sgemm`` to OpenBLAS (read from ``LD_DEBUG=bindings``)."""
    pytest.importorskip("torch")
    log = tmp_path / "bindings"
    run("""
        import json
        import lucid
        (lucid.randn(64, 64) @ lucid.randn(64, 64)).sum().item()
        import torch
        a = torch.randn(256, 256, requires_grad=True)
        (a @ a).sum().backward()
        print(json.dumps({}))
    """, LD_DEBUG="bindings", LD_DEBUG_OUTPUT=str(log))
    text = "".join(p.read_text(errors="replace") for p in tmp_path.glob("bindings*"))
    binds = {}
    for line in text.splitlines():
        if "normal symbol `sgemm_'" in line or "normal symbol `cblas_sgemm'" in line:
            src, _, dst = line.split("binding file ", 1)[1].partition(" to ")
            binds.setdefault(os.path.basename(src.split()[0]), set()).add(
                os.path.basename(dst.split()[0]))
    assert binds.get("libtorch_cpu.so") == {"libtorch_cpu.so"}, binds
    assert any("openblas" in d for d in binds.get("libmlx.so", ())), binds
