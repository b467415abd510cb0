"""Break each defect class's fix, run the tests that should catch it, restore, run them again.

Run from the checkout's root (about 20 minutes on two cores)::

    python -m tests.reliability.mutations          # every mutation; writes tests/reliability/mutations.json
    python -m tests.reliability.mutations 3 7      # only those (by position in MUTATIONS), put in the record

Each mutation replaces one piece of a fix (the text must occur exactly once) in a scratch copy of
the checkout (a temporary folder with ``shared`` linked beside it, so the samples are found as in
the checkout), runs the named tests there with ``-x``, restores the file and runs them again.
Nothing in the checkout is touched. :mod:`tests.reliability.report` puts the recorded results in
``docs/reliability.md`` ("Defects and the tests that catch them").
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["MUTATIONS", "RESULTS", "Mutation", "Outcome", "load_results", "run"]

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).with_name("mutations.json")
_SKIP_DIRS = {".git", ".venv", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache", "artifacts",
              "__pycache__"}
_FIXED = "/" + "work/shared/nomad-api/samples"   # spelled apart: the fixed-path check looks for the whole path
_SKIPPING = "importor" + "skip"                  # likewise for the ban on skipping imports


@dataclass(frozen=True)
class Mutation:
    """One break of one fix: ``old`` (found once in ``file``) becomes ``new``; ``tests`` must catch it."""

    defect: str
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What the tests said with the fix broken, and again with it restored."""

    defect: str
    what: str
    file: str
    tests: tuple[str, ...]
    caught_by: tuple[str, ...]
    broken: str
    restored: str
    broken_exit: int
    restored_exit: int
    when: str = ""
    """UTC time (``YYYY-MM-DD HH:MM``) the case was run."""

    @property
    def at_target(self) -> bool:
        """Caught (the tests failed while broken) and clean again once restored."""
        return self.broken_exit != 0 and bool(self.caught_by) and self.restored_exit == 0


MUTATIONS: tuple[Mutation, ...] = (
    Mutation('frames on malformed wire',
             'readable() keeps every list element (null, strings, numbers reach the builders)',
             'nomadlab/frames/_common.py',
             '        if isinstance(item, dict):\n            rows.append(item)',
             '        if True:\n            rows.append(item)',
             ('tests/frames/test_hostile_wire.py::test_malformed_list_element_is_dropped_not_fatal',)),
    Mutation('frames on malformed wire',
             'namespaces.meta takes any Meta value, not only an object',
             'nomadlab/frames/namespaces.py',
             '"meta": [r.get("Meta") if isinstance(r.get("Meta"), dict) else None for r in rows],',
             '"meta": [r.get("Meta") for r in rows],',
             ('tests/frames/test_hostile_wire.py',)),
    Mutation('frames on malformed wire',
             "evaluations' job filter compares the raw JobID (an unhashable list raises)",
             'nomadlab/frames/evaluations.py',
             'as_str(e.get("JobID")) in jobs_',
             'e.get("JobID") in jobs_',
             ('tests/frames/test_hostile_wire.py',)),
    Mutation('secrets in messages',
             'a token with a control character is accepted',
             'nomadlab/config.py',
             '            if at is not None:\n                raise NomadConfigError(',
             '            if False:\n                raise NomadConfigError(',
             ('tests/client/test_secrets.py::test_token_with_a_control_character_is_refused_at_configuration',
              'tests/client/test_secrets.py::test_a_bad_token_is_never_sent_nor_retried')),
    Mutation('secrets in messages',
             'configuration errors show NOMAD_ADDR unredacted (user:password)',
             'nomadlab/config.py',
             '        shown = _redacted(address)\n',
             '        shown = address\n',
             ('tests/client/test_secrets.py::test_password_in_address_never_shows_in_configuration_errors',)),
    Mutation('secrets in messages',
             'a bad port is not caught (bare ValueError from urlsplit)',
             'nomadlab/config.py',
             ('            parts.port  # noqa: B018  (a port that is not a number in 0-65535 '
              'raises here)\n'
              '        except ValueError:'),
             '            pass\n        except ValueError:',
             ('tests/client/test_secrets.py::test_bad_port_is_a_config_error_that_says_what_to_fix',)),
    Mutation('TLS failures',
             "a refused client certificate is not recognised (plain 'Server disconnected', retried)",
             'nomadlab/client.py',
             ('        if self._transport is not None or "disconnected" not in str(exc).lower():\n'
              '            return None'),
             '        if True:\n            return None',
             ('tests/client/test_tls_served.py::test_mutual_tls_refused_names_the_client_certificate',
              'tests/reliability/test_tls.py')),
    Mutation('TLS failures',
             "http:// to a TLS port: the probe's answer is dropped",
             'nomadlab/client.py',
             '        if url.scheme == "http":\n            return (f"the agent at {self._config.address} speaks TLS',
             '        if False:\n            return (f"the agent at {self._config.address} speaks TLS',
             ('tests/client/test_tls_served.py::test_http_to_a_tls_port_says_use_https',)),
    Mutation('TLS failures',
             'http:// to a TLS port: a TLS alert record where a status line belongs is not recognised',
             'nomadlab/errors.py',
             '    if not tls_failure and url.startswith("http://") and any(',
             '    if False and any(',
             ('tests/client/test_tls_hints.py::test_http_to_a_tls_port_says_use_https',)),
    Mutation('TLS failures',
             'NOMAD_SKIP_VERIFY warns on every client, not once',
             'nomadlab/client.py',
             '            _WARNED_INSECURE.add(config.address)\n',
             '',
             ('tests/client/test_tls_hints.py::test_skip_verify_warns_once_per_address',)),
    Mutation('TLS failures',
             'NOMAD_SKIP_VERIFY does not warn at all',
             'nomadlab/client.py',
             '        if config.skip_verify and config.uses_tls and config.address not in _WARNED_INSECURE:',
             '        if False:',
             ('tests/client/test_tls_hints.py::test_skip_verify_warns_once_per_address',
              'tests/reliability/test_tls.py')),
    Mutation('event-stream decoder',
             'the first bad line raises at once, losing the valid batches of its chunk',
             'nomadlab/streams.py',
             '            except NomadDecodeError as exc:\n                bad.append(exc)\n                continue',
             '            except NomadDecodeError:\n                raise',
             ('tests/client/test_stream_decoding.py::test_bad_line_between_valid_ones_costs_none_of_them',)),
    Mutation('event-stream decoder',
             'a malformed event raises TypeError/ValueError, not NomadDecodeError',
             'nomadlab/streams.py',
             ('        except (TypeError, ValueError, OverflowError) as exc:\n'
              '            raise NomadDecodeError(f"event stream line {line}: malformed event'
              ' ({exc})") from exc'),
             ('        except OverflowError as exc:\n'
              '            raise NomadDecodeError(f"event stream line {line}: malformed event'
              ' ({exc})") from exc'),
             ('tests/client/test_stream_decoding.py',)),
    Mutation('silent emptiness',
             'an empty list across namespaces never asks why (no access warning)',
             'nomadlab/sources.py',
             '    message = client.access_warning()\n',
             '    message = None\n',
             ('tests/client/test_access_warning.py',)),
    Mutation('silent emptiness',
             'a token that can read no namespace is not told apart',
             'nomadlab/client.py',
             '        if isinstance(readable, list) and not readable:',
             '        if False:',
             ('tests/client/test_access_warning.py::test_token_that_reads_no_namespace_warns_without_its_secret',)),
    Mutation('silent emptiness',
             'job= naming no job gives an empty frame without a warning',
             'nomadlab/frames/jobs.py',
             '    if unknown:\n',
             '    if False:\n',
             ('tests/client/test_access_warning.py::test_job_filter_naming_no_job_warns',)),
    Mutation('suite skipping',
             'CI with ../shared missing only skips',
             'tests/conftest.py',
             '    if in_ci() and not SAMPLES_DIR.is_dir():',
             '    if False:',
             ('tests/test_conftest_checks.py::test_missing_samples_fail_the_run_in_ci',)),
    Mutation('suite skipping',
             'a sample reader uses a fixed absolute path again',
             'tests/sim/test_bexpr.py',
             'SAMPLES = SAMPLES_DIR\n',
             "SAMPLES = type(SAMPLES_DIR)(" + repr(_FIXED) + ")\n",
             ('tests/test_conftest_checks.py::test_samples_are_found_beside_the_checkout',)),
    Mutation('suite skipping',
             'sample() gives a stand-in object when ../shared is missing (the old sample_or)',
             'tests/frames/conftest.py',
             ('    if not SAMPLES_DIR.is_dir():\n'
              '        pytest.skip(f"sample responses not found at {SAMPLES_DIR}")\n'
              '    return load_sample(SAMPLES_DIR, name)'),
             '    if not SAMPLES_DIR.is_dir():\n        return {}\n    return load_sample(SAMPLES_DIR, name)',
             ('tests/frames/test_schema.py::test_sample_strategies_skip_without_the_samples_never_stand_in',)),
    Mutation('suite skipping',
             'importorskip on our own module (tests/client/test_sim.py)',
             'tests/client/test_sim.py',
             'import nomadlab.sim as sim\n',
             'sim = pytest.' + _SKIPPING + '("nomadlab.sim")\n',
             ('tests/test_conftest_checks.py::test_no_test_skips_on_a_missing_import',)),
    Mutation('deliberate-bug gaps',
             'a namespace deny no longer overrides a grant on the same namespace',
             'nomadlab/sim/acl.py',
             ('        if "deny" in caps:\n'
              '            have.clear()\n'
              '            have.add("deny")\n'
              '            return\n'
              '        have.update(caps)'),
             '        if "deny" in caps and have:\n            return\n        have.update(caps)',
             ('tests/sim/test_acl_matrix.py', 'tests/sim/test_acl.py')),
    Mutation('deliberate-bug gaps',
             'an expired token is accepted on ordinary routes',
             'nomadlab/sim/acl.py',
             '    if store.expired(token, cluster.now_ns()):\n        raise NomadHTTPError(403, PERMISSION_DENIED)',
             '    if False:\n        raise NomadHTTPError(403, PERMISSION_DENIED)',
             ('tests/sim/test_acl_matrix.py::test_expired_token_is_denied_on_every_authenticated_route',
              'tests/sim/test_acl_matrix.py::test_expired_token_is_denied_on_filtered_lists')),
    Mutation('deliberate-bug gaps',
             "the simulator's unknown evaluation says 'evaluation not found'",
             'nomadlab/sim/routes/evaluations.py',
             'raise NomadHTTPError(404, "eval not found", meta_headers(index))',
             'raise NomadHTTPError(404, "evaluation not found", meta_headers(index))',
             ('tests/client/test_not_found.py::test_the_simulator_answers_nomads_404_texts',)),
    Mutation('deliberate-bug gaps',
             "Go's zero time (0) stays 1970-01-01 on the all-integer fast path",
             'nomadlab/frames/schema.py',
             '            arr[arr == 0] = nat\n',
             '',
             ('tests/frames/test_schema.py::test_zero_time_is_nat_on_the_fast_path',)),
    Mutation('doctests',
             "a docstring example shows a wrong result (readable's)",
             'nomadlab/frames/_common.py',
             '>>> readable([{"ID": "a"}, None, "x"], "jobs")\n    ([{\'ID\': \'a\'}]',
             '>>> readable([{"ID": "a"}, None, "x"], "jobs")\n    ([{\'ID\': \'b\'}]',
             ('tests/test_doctests.py::test_docstring_examples_run[nomadlab.frames._common]',)),
    Mutation('bad offline input',
             'a damaged or foreign history part is read with pyarrow directly (its errors, or null rows)',
             'nomadlab/history.py',
             '            tables += [_read_part(pa, part, arrow, table, base) for part in parts]',
             '            tables += [pa.parquet.read_table(part, schema=arrow) for part in parts]',
             ('tests/offline/test_history_damage.py',)),
    Mutation('bad offline input',
             'DebugArchiveError is a plain ValueError again, outside the NomadError family',
             'nomadlab/offline/archive.py',
             'class DebugArchiveError(OfflineFormatError):',
             'class DebugArchiveError(ValueError):',
             ('tests/offline/test_error_family.py',)),
    Mutation('bad offline input',
             'open_recording on a file lets NotADirectoryError out (both OSError branches taken out)',
             'nomadlab/offline/recording.py',
             ('    except NotADirectoryError:\n'
              '        raise OfflineFormatError(f"{folder} is a file, not a recording: '
              'give the folder nomadlab record wrote "\n'
              '                                 f"(it holds {HEADER}); '
              'open_source tells snapshots and archives apart",\n'
              '                                 path=folder) from None\n'
              '    except OSError as exc:\n'
              '        raise OfflineFormatError(f"{path} cannot be read ({exc.strerror or exc}): '
              'check the recording\'s folder",\n'
              '                                 path=path) from None\n'),
             '',
             ('tests/offline/test_error_family.py::test_the_format_readers_name_what_is_wrong',)),
    Mutation('nomadlab sim --fault help',
             'nomadlab sim --fault: the old hand-written help (no cut_stream)',
             'nomadlab/cli.py',
             ('        "--fault", action=_FaultAction, default=[], type=_fault_arg, metavar="'
              'ROUTE:KIND[:k=v,...]",\n'
              '    )'),
             ('        "--fault", action="append", default=[], type=_fault_arg, metavar="ROUT'
              'E:KIND[:k=v,...]",\n'
              '        help="inject a fault (repeatable): ROUTE is a path glob, KIND one of l'
              'atency, error, "\n'
              '             "reset, truncate, drop_stream, leader_loss; options rate, status,'
              ' retry_after_s, "\n'
              '             "latency_s, after_events, times, body, methods (GET|PUT). "\n'
              '             "E.g. \'/v1/jobs*:error:status=503,rate=0.5\' or \'*:latency:latency'
              '_s=0.2\'",\n'
              '    )'),
             ('tests/sim/test_faults.py::test_cli_fault_help_lists_every_kind_and_option',)),
)


def _scratch(into: Path) -> Path:
    """A copy of the checkout in ``into``, with ``shared`` beside it as beside the checkout."""
    work = into / "checkout"
    shutil.copytree(ROOT, work, ignore=lambda _, names: [n for n in names if n in _SKIP_DIRS])
    shared = ROOT.parent / "shared"
    if shared.exists():
        (into / "shared").symlink_to(shared)
    return work


def _pytest(work: Path, tests: Sequence[str]) -> tuple[int, str, tuple[str, ...]]:
    done = subprocess.run([sys.executable, "-m", "pytest", *tests, "-q", "-x", "-p", "no:cacheprovider"],
                          cwd=work, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    failed = tuple(line.split(" ")[1] for line in lines if line.startswith(("FAILED ", "ERROR ")))
    return done.returncode, (lines[-1] if lines else done.stderr.strip()[-200:]), failed


def run(which: Sequence[int] = (), progress: bool = True) -> list[Outcome]:
    """Apply each mutation (or those at ``which``) in a scratch copy; the outcomes in order."""
    chosen = [m for i, m in enumerate(MUTATIONS) if not which or i in which]
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="nomadlab-mutations-") as tmp:
        work = _scratch(Path(tmp))
        for m in chosen:
            path = work / m.file
            text = path.read_text()
            if text.count(m.old) != 1:
                raise SystemExit(f"{m.file}: the text to break is found {text.count(m.old)} times, not once: "
                                 f"update the mutation {m.what!r}")
            start = time.monotonic()
            try:
                path.write_text(text.replace(m.old, m.new))
                broken_exit, broken, caught = _pytest(work, m.tests)
            finally:
                path.write_text(text)
            restored_exit, restored, _ = _pytest(work, m.tests)
            outcome = Outcome(m.defect, m.what, m.file, m.tests, caught, broken, restored, broken_exit,
                              restored_exit, dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"))
            outcomes.append(outcome)
            if progress:
                mark = "caught" if outcome.at_target else "NOT CAUGHT"
                print(f"{mark}: {m.what} ({time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
    return outcomes


def load_results(path: Path = RESULTS) -> tuple[str, list[Outcome]] | None:
    """The recorded run (its UTC time and outcomes), or None when there is none."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data["when"], [Outcome(**{**o, "tests": tuple(o["tests"]), "caught_by": tuple(o["caught_by"])})
                          for o in data["outcomes"]]


def main(argv: Sequence[str] | None = None) -> int:
    which = [int(a) for a in (sys.argv[1:] if argv is None else argv)]
    outcomes = run(which)
    recorded = load_results() if which else None
    if which and (recorded is None or len(recorded[1]) != len(MUTATIONS)):
        raise SystemExit("no whole run is recorded to update: run every mutation first (no arguments)")
    merged = list(recorded[1]) if recorded else outcomes
    for i, outcome in zip(which, outcomes, strict=True):
        merged[i] = outcome   # the re-run cases replace theirs; the others keep their recorded run
    times = sorted(o.when for o in merged if o.when)
    when = times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"
    RESULTS.write_text(json.dumps({"when": when, "outcomes": [asdict(o) for o in merged]}, indent=1) + "\n")
    print(f"wrote {RESULTS}", file=sys.stderr)
    return 0 if all(o.at_target for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
