"""Builds the SWIG extension from ../swig/cqueue.i against an installed libcqueue.

Where the library is found, first match wins:
  CQUEUE_INCLUDE_DIR + CQUEUE_LIB_DIR   (e.g. a build tree: capi/include and the build dir)
  pkg-config cqueue                     (an installed prefix; set PKG_CONFIG_PATH)
The library directory is put on the extension's RUNPATH, so no LD_LIBRARY_PATH is needed.
Needs swig (>= 4.1) on PATH.
"""
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
INTERFACE = (HERE / ".." / "swig" / "cqueue.i").resolve()


def library_flags():
    inc, lib = os.environ.get("CQUEUE_INCLUDE_DIR"), os.environ.get("CQUEUE_LIB_DIR")
    if inc and lib:
        return [inc], [lib]
    try:
        cflags = subprocess.check_output(["pkg-config", "--cflags", "cqueue"], text=True)
        libs = subprocess.check_output(["pkg-config", "--libs-only-L", "cqueue"], text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(
            "libcqueue not found: set CQUEUE_INCLUDE_DIR and CQUEUE_LIB_DIR, or make "
            f"`pkg-config cqueue` work (PKG_CONFIG_PATH). ({e})"
        )
    incs = [f[2:] for f in shlex.split(cflags) if f.startswith("-I")]
    dirs = [f[2:] for f in shlex.split(libs) if f.startswith("-L")]
    return incs, dirs


class SwigBuildExt(build_ext):
    """Runs swig itself so the generated module lands inside the cqueue package."""

    def run(self):
        swig = shutil.which("swig") or shutil.which("swig4.0")
        if not swig:
            raise SystemExit("swig not found (apt-get install swig)")
        incs, _ = library_flags()
        out_py = Path(self.build_lib) / "cqueue"
        out_py.mkdir(parents=True, exist_ok=True)
        tmp = Path(self.build_temp)
        tmp.mkdir(parents=True, exist_ok=True)
        wrap = tmp / "cqueue_wrap.c"
        cmd = [swig, "-python", "-threads", "-module", "cqueue_swig", "-outdir", str(out_py),
               "-o", str(wrap)] + [f"-I{i}" for i in incs] + [str(INTERFACE)]
        subprocess.check_call(cmd)
        for ext in self.extensions:
            ext.sources = [str(wrap)]
        super().run()


incs, lib_dirs = library_flags()
setup(
    ext_modules=[
        Extension(
            "cqueue._cqueue_swig",
            sources=["../swig/cqueue.i"],  # replaced by the generated wrapper in SwigBuildExt
            include_dirs=incs,
            library_dirs=lib_dirs,
            runtime_library_dirs=lib_dirs,
            libraries=["cqueue"],
            extra_compile_args=["-Wno-unused-parameter"],
        )
    ],
    cmdclass={"build_ext": SwigBuildExt},
)
