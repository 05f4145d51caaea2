"""Mutation testing of the verdict code with mutmut 3: do the tests notice when a rule changes?

    python bench/mutation.py [--modules status,nights,refs,ingest,record,parser] [--jobs 2]
                             [--work DIR] [--keep] [--survivors]

Not part of CI (a full run takes tens of minutes on 2 cores). Needs the `dev` extra:
``pip install -e '.[test,dev]'``.

What it mutates (DESIGN.md's verdict rules):

- ``acorntui/core/status.py``  status from the completion code, exception matching, scopes;
- ``acorntui/core/nights.py``  which night a moment belongs to;
- ``acorntui/core/refs.py``    ``<customer>/<server>.out`` references;
- ``acorntui/services/ingest.py``, the night / missing / evaluate parts only (``evaluate``,
  ``load_rules``, ``Ingestor.ingest_paths``, ``Ingestor.record_missing``,
  ``record_fetch_failed``, ``reevaluate``, ``reevaluate_expired``);

and, when named with ``--modules`` (they are long: add them when there is time):

- ``record``: ``Ingestor.record`` (the night choice, among the row writing);
- ``parser``: ``acorntui/core/parser.py``'s completion-code, stats-line and line-classification
  functions (``_final_code``, ``_Scanner._classify`` / ``_rsync_line`` / ``_stats_line`` /
  ``_file_error`` / ``apply_fallbacks`` / ``_line`` / ``_unrecognise``, ``parse_number`` and its
  helpers).

Each module is checked with the test files of its suite (``SUITES``): the parser's mutants run
only the parser's own tests (``PARSER_TEST_FILES``), every other module the verdict tests
(``TEST_FILES``). A suite is one mutmut run in its own sub-folder of the work folder
(``verdict/``, ``parser/``).

How: the repository keeps ``screens/`` and ``db/`` beside ``acorntui/`` (with symlinks to them
inside it) and installs them as ``acorntui.screens`` and ``acorntui.db``. mutmut copies one
source tree into ``mutants/`` and puts that folder first on ``sys.path``, so this script first
stages the installed layout (``acorntui/`` with ``screens/`` and ``db/`` inside it) plus
``tests/`` in the suite's folder, writes a ``pyproject.toml`` there with the ``[tool.mutmut]``
settings, and runs ``mutmut run`` in it. The staged ``tests/conftest.py`` gets a
``collect_ignore`` naming the test files outside the suite, so mutmut's test selection is just
``tests``: mutmut resets every verdict when its test selection changes, and this way adding a
test file to a suite does not. The tests then import the mutated ``acorntui`` from
``mutants/``, never the editable install. Tests that start ``acorntui`` in a subprocess run the
unmutated code and so cannot kill a mutant; that only makes the score lower, never higher.

Prints killed / survived / timeout / no tests per module and the overall score
(killed + timeout) / all, then (with ``--survivors``) each surviving mutant's diff.
``--keep`` reuses the work folder: only mutants without a verdict (a run that was stopped: this
resumes it), the ones named with ``--only``, or with ``--recheck`` every one not killed last
time, run again (mutmut picks up new tests by itself).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> (file, mutant-name globs). mutmut names a mutant
# "<module>.x_<function>__mutmut_<n>" or "<module>.xǁ<Class>ǁ<method>__mutmut_<n>".
ING = "acorntui.services.ingest"
PAR = "acorntui.core.parser"
MODULES: dict[str, tuple[str, list[str]]] = {
    "status": ("acorntui/core/status.py", ["acorntui.core.status.*"]),
    "nights": ("acorntui/core/nights.py", ["acorntui.core.nights.*"]),
    "refs": ("acorntui/core/refs.py", ["acorntui.core.refs.*"]),
    "ingest": ("acorntui/services/ingest.py", [
        f"{ING}.x_evaluate__mutmut_*",
        f"{ING}.x_load_rules__mutmut_*",
        f"{ING}.xǁIngestorǁingest_paths__mutmut_*",
        f"{ING}.xǁIngestorǁrecord_missing__mutmut_*",
        f"{ING}.x_record_fetch_failed__mutmut_*",
        f"{ING}.x_reevaluate__mutmut_*",
        f"{ING}.x_reevaluate_expired__mutmut_*",
    ]),
    # Ingestor.record: the night choice sits in it with the row writing (275 mutants)
    "record": ("acorntui/services/ingest.py", [f"{ING}.xǁIngestorǁrecord__mutmut_*"]),
    "parser": ("acorntui/core/parser.py", [
        f"{PAR}.x__final_code__mutmut_*",
        f"{PAR}.xǁ_Scannerǁ_classify__mutmut_*",
        f"{PAR}.xǁ_Scannerǁ_rsync_line__mutmut_*",
        f"{PAR}.xǁ_Scannerǁ_stats_line__mutmut_*",
        f"{PAR}.xǁ_Scannerǁ_file_error__mutmut_*",
        f"{PAR}.xǁ_Scannerǁapply_fallbacks__mutmut_*",
        f"{PAR}.xǁ_Scannerǁ_line__mutmut_*",
        f"{PAR}.xǁ_Scannerǁ_unrecognise__mutmut_*",
        f"{PAR}.x_parse_number__mutmut_*",
        f"{PAR}.x__parse_number__mutmut_*",
        f"{PAR}.x__to_decimal__mutmut_*",
    ]),
}

# The tests that pin the verdict rules. Fast ones only: the per-mutant runs pick, from these,
# the tests that call the mutated function. MariaDB variants are deselected (same rules, a
# slower backend); the fuzz and reliability suites are too slow to run per mutant.
TEST_FILES = [
    "tests/test_boundaries.py",
    "tests/test_ingest.py",
    "tests/test_parser.py",
    "tests/test_parser_corpus.py",
    "tests/test_reparse.py",
    "tests/test_nightly.py",
    "tests/test_ingest_record.py",
    "tests/test_trust.py",  # destination_broken, pattern_problem / literal_run (core.status)
    "tests/test_hostile_logs.py",  # failures past the kept cap, in evaluate and reevaluate
    "tests/test_spool_hardening.py",  # ingest_paths' spool listing (in_spool, skipped)
    "tests/test_anomaly_ingest.py",  # anomaly marks at ingest and after a re-evaluation
]
# The parser is called by almost every test that ingests a log; its mutants run only the tests
# that check the parser itself (its result: code, reason, failing paths, stats), which is what
# makes a parser run take an hour rather than many.
PARSER_TEST_FILES = [
    "tests/test_parser.py",
    "tests/test_parser_corpus.py",
    "tests/test_parser_properties.py",
    "tests/test_parser_real_rsync.py",
    "tests/test_fuzz_parser.py",
    "tests/test_hostile_logs.py",
    "tests/test_boundaries.py",
    "tests/test_parser_rules.py",
]
# module -> the test files its mutants are checked with. Modules with different test files run
# in separate mutmut runs, each in its own sub-folder of the work folder (mutmut's test
# selection is one per run).
SUITE_OF = {"parser": "parser"}
SUITES = {"verdict": TEST_FILES, "parser": PARSER_TEST_FILES}


def suite(module: str) -> str:
    return SUITE_OF.get(module, "verdict")


# the memory and timing figures do not hold under mutmut's trampolines: left out
PYTEST_ARGS = ["-p", "no:cacheprovider", "-k",
               "not mariadb and not bounded_memory"]

# mutmut's exit-code verdicts (mutmut/stats.py)
VERDICT = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
           34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
           255: "timeout", None: "not checked"}


def stage(work: Path, modules: list[str], test_files: list[str]) -> None:
    """The installed package layout, the tests, and a pyproject.toml with [tool.mutmut]."""
    for sub in ("acorntui", "tests"):
        shutil.rmtree(work / sub, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "__snapshots__")
    # acorntui/screens and acorntui/db are symlinks to ../screens and ../db in a checkout:
    # copytree follows them, which gives the installed layout; copy them when they are not there
    shutil.copytree(ROOT / "acorntui", work / "acorntui", ignore=ignore)
    for sub in ("screens", "db"):
        if not (work / "acorntui" / sub).exists():
            shutil.copytree(ROOT / sub, work / "acorntui" / sub, ignore=ignore)
    # tests/ is copied whole (test files import helpers from each other), and its conftest.py
    # tells pytest to skip collecting the test files outside the suite: mutmut's test selection
    # is then just "tests", which stays the same when a test file is added to the suite
    # (mutmut resets every verdict when the selection changes, but picks up new tests itself)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    chosen = {Path(t).name for t in test_files}
    others = sorted(p.name for p in (ROOT / "tests").glob("test_*.py") if p.name not in chosen)
    with open(work / "tests" / "conftest.py", "a") as fh:
        fh.write("\n\n# added by bench/mutation.py: only this suite's test files are collected\n"
                 f"collect_ignore = {others!r}\n")
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    conf = {
        "source_paths": ["acorntui"],
        # every file of the suite, not only the selected modules': a run of some modules then
        # keeps the mutated copies (and verdicts) of the others in the same folder
        "only_mutate": sorted({MODULES[m][0] for m in MODULES if suite(m) == suite(modules[0])}),
        "pytest_add_cli_args_test_selection": ["tests"],
        "pytest_add_cli_args": PYTEST_ARGS,
        "use_git_change_detection": False,
        "track_dependencies": False,
    }
    text = "[tool.pytest.ini_options]\n" + _toml(pytest_ini["ini_options"]) + "\n"
    text += "[tool.mutmut]\n" + _toml(conf)
    (work / "pyproject.toml").write_text(text)
    # mutmut copies tests/ and pyproject.toml into mutants/ itself; refresh the copies, and
    # drop its copies of the files it does not mutate (it never copies over an existing file,
    # so after a `git pull` they would be stale)
    mutants = work / "mutants"
    if mutants.exists():
        shutil.rmtree(mutants / "tests", ignore_errors=True)
        keep = set(conf["only_mutate"])
        for f in (mutants / "acorntui").rglob("*"):
            rel = f.relative_to(mutants).as_posix()
            if f.is_file() and not rel.endswith(".meta") and rel not in keep:
                f.unlink()


def _toml(d: dict) -> str:
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in d.items())


def verdicts(work: Path, modules: list[str]) -> dict[str, dict[str, str]]:
    """module -> {mutant name: verdict}, from mutmut's .meta files, for the selected globs."""
    out: dict[str, dict[str, str]] = {}
    for m in modules:
        path, globs = MODULES[m]
        meta = work / suite(m) / "mutants" / (path + ".meta")
        found: dict[str, str] = {}
        if meta.exists():
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            for name, code in codes.items():
                if any(fnmatch.fnmatchcase(name, g) for g in globs):
                    found[name] = VERDICT.get(code, "suspicious")
        out[m] = found
    return out


def report(results: dict[str, dict[str, str]]) -> tuple[int, int]:
    cols = ["killed", "survived", "timeout", "no tests", "other"]
    print(f"\n{'module':<8} {'mutants':>7} " + " ".join(f"{c:>9}" for c in cols) + "    score")
    total = detected = 0
    for m, found in results.items():
        counts = dict.fromkeys(cols, 0)
        for v in found.values():
            counts[v if v in counts else "other"] += 1
        n = len(found)
        det = counts["killed"] + counts["timeout"]
        total, detected = total + n, detected + det
        score = f"{100 * det / n:6.1f}%" if n else "     -"
        print(f"{m:<8} {n:>7} " + " ".join(f"{counts[c]:>9}" for c in cols) + f"  {score}")
    if total:
        print(f"\noverall: {detected}/{total} mutants detected (killed or timeout) = "
              f"{100 * detected / total:.1f}%")
    return detected, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", default="status,nights,refs,ingest",
                    help="comma-separated, from: " + ",".join(MODULES))
    ap.add_argument("--jobs", type=int, default=2, help="parallel mutant workers (default 2)")
    ap.add_argument("--work", type=Path,
                    default=Path(tempfile.gettempdir()) / "acorntui-mutation",
                    help="staging folder (default: %(default)s)")
    ap.add_argument("--keep", action="store_true",
                    help="reuse the work folder's verdicts; re-run only unchecked mutants")
    ap.add_argument("--only", action="append", default=[],
                    help="with --keep: re-run these mutant names/globs (repeatable)")
    ap.add_argument("--recheck", action="store_true",
                    help="with --keep: re-run every mutant not killed last time (after adding "
                    "tests)")
    ap.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    ap.add_argument("--report", action="store_true", help="only print the last run's figures")
    args = ap.parse_args(argv)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    bad = [m for m in modules if m not in MODULES]
    if bad:
        ap.error(f"unknown module(s) {', '.join(bad)}; choose from {', '.join(MODULES)}")
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or \
        shutil.which("mutmut")
    if not mutmut:
        print("mutmut is not installed: pip install -e '.[test,dev]'", file=sys.stderr)
        return 2
    work = args.work.resolve()
    if not args.report:
        for name in dict.fromkeys(suite(m) for m in modules):
            rc = run_suite(mutmut, work / name, [m for m in modules if suite(m) == name], args)
            if rc not in (0, None):
                print(f"suite {name}: mutmut exited {rc}")
    results = verdicts(work, modules)
    detected, total = report(results)
    survivors = sorted(n for found in results.values() for n, v in found.items()
                       if v not in ("killed", "timeout"))
    unchecked = [n for n in survivors if _verdict(results, n) == "not checked"]
    survivors = [n for n in survivors if n not in unchecked]
    if unchecked:
        print(f"\n{len(unchecked)} not checked (the run stopped early; see the log)")
    if survivors:
        print(f"\n{len(survivors)} not detected:")
        for n in survivors:
            print("  ", n, f"({_verdict(results, n)})")
    if args.survivors:
        for n in survivors:
            diff = subprocess.run([mutmut, "show", n], cwd=work / suite(_module(results, n)),
                                  capture_output=True, text=True)
            print(re.sub(r"\n{3,}", "\n\n", diff.stdout))
    return 0 if total else 1


def run_suite(mutmut: str, work: Path, modules: list[str], args: argparse.Namespace) -> int:
    """One mutmut run, in ``work``, for modules checked with the same test files."""
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    stage(work, modules, SUITES[suite(modules[0])])
    dotted = {MODULES[m][0].removesuffix(".py").replace("/", ".") for m in modules}
    names = [n for n in args.only if any(n.startswith(d + ".") for d in dotted)] \
        if args.only else [g for m in modules for g in MODULES[m][1]]
    if args.only and not names:
        return 0
    if args.keep and args.recheck:
        names = [n for found in verdicts(work.parent, modules).values()
                 for n, v in found.items() if v not in ("killed", "timeout")]
        if not names:
            return 0
    elif args.keep and not args.only:
        # resume: the selected mutants with no verdict yet (with no names mutmut would run
        # every unchecked mutant of the file, also those of functions not selected)
        # (a module whose file has no verdicts yet, or had none written, runs whole)
        names = []
        for m, found in verdicts(work.parent, modules).items():
            names += ([n for n, v in found.items() if v == "not checked"] if found
                      else MODULES[m][1])
        if not names:
            return 0
    env = dict(os.environ)
    env.pop("ACORN_REQUIRE_INTEGRATION", None)
    env.pop("PYTHONPATH", None)
    cmd = [mutmut, "run", "--max-children", str(args.jobs), *names]
    print(f"staged {','.join(modules)} in {work}; running: mutmut run --max-children "
          f"{args.jobs} <{len(names)} name globs>", flush=True)
    t0 = time.monotonic()
    log = work / "mutmut.log"
    with open(log, "w") as fh:
        rc = subprocess.call(cmd, cwd=work, env=env, stdout=fh, stderr=subprocess.STDOUT)
    print(f"mutmut exited {rc} after {time.monotonic() - t0:.0f} s (output: {log})", flush=True)
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        print("\n".join(tail))
    return rc


def _module(results: dict[str, dict[str, str]], name: str) -> str:
    return next(m for m, found in results.items() if name in found)


def _verdict(results: dict[str, dict[str, str]], name: str) -> str:
    return next(found[name] for found in results.values() if name in found)


if __name__ == "__main__":
    sys.exit(main())
