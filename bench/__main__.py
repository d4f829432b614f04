"""Run every benchmark (or one) and print one table of figures, baselines, ratios and targets.

    python -m bench                 # every benchmark, default loads (2,000-bed hospital)
    python -m bench ami_ingest      # one
    python -m bench --quick         # small loads, for a smoke run
    python -m bench --json out.json # also write the table as JSON (default bench-results.json)

Each benchmark is a script of this folder that prints readable figures and, with ``--json``,
one JSON object as its last line; this runner reads that object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _get(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    unit: str
    baseline: str | None = None
    baseline_label: str = ""
    target: str = ""
    meets: Callable[[float], bool] | None = None


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    figures: tuple[Figure, ...]


BENCHES = (
    Bench(
        "ami_ingest",
        (),
        ("--events", "20000", "--rounds", "1"),
        (
            Figure(
                "AMI events/s, full pipeline",
                "wardline_events_per_s",
                "ev/s",
                "panoramisk_empty_callback_events_per_s",
                "plain panoramisk",
                ">= 50,000 and ratio >= 1.0",
                lambda v: v >= 50_000,
            ),
            Figure(
                "resident memory after", "rss_mib_after", "MiB", "rss_mib_before", "before", "flat"
            ),
        ),
    ),
    Bench(
        "line_activation",
        (),
        ("--admissions", "200"),
        (
            Figure(
                "admission -> line active p99",
                "admission_to_line_p99_ms",
                "ms",
                "baseline_dbput_p99_ms",
                "one raw DBPut",
            ),
            Figure(
                "line part of it p50",
                "line_part_p50_ms",
                "ms",
                "baseline_dbput_p50_ms",
                "one raw DBPut",
            ),
            Figure("admissions to line active/s", "admissions_per_s", "/s"),
            Figure(
                "reconcile 2,000 beds, AstDB intact",
                "reconcile_in_step_s",
                "s",
                None,
                "",
                "< 2 s",
                lambda v: v < 2.0,
            ),
            Figure(
                "reconcile 2,000 beds, AstDB lost (worst)",
                "reconcile_full_worst_s",
                "s",
                "baseline_raw_puts_s",
                "raw DBPuts",
                "< 2 s",
                lambda v: v < 2.0,
            ),
            Figure(
                "same on a real Asterisk 22 (worst of 5; WARDLINE_TEST_ASTERISK)",
                "asterisk.reconcile_full_worst_s",
                "s",
                "reconcile_full_worst_s",
                "simulator",
                "< 2 s",
                lambda v: v < 2.0,
            ),
        ),
    ),
    Bench(
        "adt_mllp",
        (),
        ("--patients", "25"),
        (
            Figure(
                "ADT over MLLP, PostgreSQL",
                "wardline.per_second",
                "msg/s",
                "baseline_domain_only.per_second",
                "domain only",
                ">= 200 msg/s",
                lambda v: v >= 200,
            ),
            Figure("ADT p99", "wardline.p99_ms", "ms", "baseline_mllp_floor.p99_ms", "MLLP floor"),
        ),
    ),
    Bench(
        "mqtt_fanout",
        (),
        ("--terminals", "200", "--rounds", "1"),
        (
            Figure(
                "context fan-out, 2,000 terminals",
                "wardline_msgs_per_s",
                "msg/s",
                "paho_msgs_per_s",
                "plain paho",
                "ratio >= 1.0",
            ),
            Figure(
                "fan-out total time",
                "wardline_seconds",
                "s",
                "paho_seconds",
                "plain paho",
                "< 0.5 s",
                lambda v: v < 0.5,
            ),
        ),
    ),
    Bench(
        "live_feed",
        (),
        ("--seconds", "2"),
        (
            Figure(
                "AMI event -> console WebSocket p99",
                "wardline.p99_ms",
                "ms",
                "baseline.p99_ms",
                "bare aiohttp",
                "< 20 ms",
                lambda v: v < 20,
            ),
            Figure(
                "console WebSocket p99 / bare aiohttp",
                "p99_ratio",
                "x",
                target="<= 3x",
                meets=lambda v: v <= 3,
            ),
            Figure(
                "console first render, 2,000 lamps",
                "first_render.console_ms",
                "ms",
                "first_render.baseline_signin_ms",
                "sign-in page",
            ),
        ),
    ),
    Bench(
        "nurse_call_latency",
        (),
        ("--calls", "50", "--rings", "20", "--restarts", "3"),
        (
            Figure(
                "nurse call -> console notice p99",
                "console_p99_ms",
                "ms",
                "echo_p99_ms",
                "MQTT echo",
                "< 50 ms",
                lambda v: v < 50,
            ),
            Figure(
                "nurse call press -> station ringing p99",
                "press_p99_ms",
                "ms",
                "bare_ring_p99_ms",
                "bare Originate",
                "< 100 ms",
                lambda v: v < 100,
            ),
            Figure(
                "nurse call clear -> every ring stopped p99",
                "clear_p99_ms",
                "ms",
                "bare_stop_p99_ms",
                "bare Hangup",
                "< 1000 ms",
                lambda v: v < 1000,
            ),
            Figure(
                "PBX back -> nurse call rings again p99",
                "back_p99_ms",
                "ms",
                "link_back_p99_ms",
                "AMI login",
                "< 5000 ms",
                lambda v: v < 5000,
            ),
        ),
    ),
    Bench(
        "nurse_call_flood",
        (),
        ("--junk", "2000", "--rounds", "1", "--calls", "5"),
        (
            Figure(
                "nurse call p99 while another terminal floods 10,000 bad messages",
                "flood_p99_ms",
                "ms",
                "baseline_p99_ms",
                "no flood",
                "< 1000 ms",
                lambda v: v < 1000,
            ),
        ),
    ),
    Bench(
        "bedside_fetch",
        (),
        ("--fetches", "30"),
        (
            Figure(
                "bedside record fetch p95",
                "bedside_record.p95_ms",
                "ms",
                "baseline_one_read.p95_ms",
                "one FHIR read",
                "< 150 ms",
                lambda v: v < 150,
            ),
        ),
    ),
    Bench(
        "loop_lag",
        (),
        ("--seconds", "5"),
        (
            Figure(
                "event-loop worst lag under AMI 30 calls/s + ADT 200 msg/s",
                "wardline.worst_ms",
                "ms",
                "baseline_bare_loop.worst_ms",
                "bare loop",
                "< 100 ms",
                lambda v: v < 100,
            ),
            Figure(
                "worst CPU of one loop step (ADT batch worker, AMI handling...)",
                "worst_step_cpu_ms",
                "ms",
                None,
                "",
                "< 50 ms",
                lambda v: v < 50,
            ),
        ),
    ),
    Bench(
        "cluster_events",
        (),
        ("--events", "300", "--big", "10"),
        (
            Figure(
                "domain event A -> B (LISTEN/NOTIFY) p99",
                "a_to_b.p99_ms",
                "ms",
                "notify_floor.p99_ms",
                "bare NOTIFY",
            ),
            Figure(
                "domain event A -> B p50",
                "a_to_b.p50_ms",
                "ms",
                "local_bus.p50_ms",
                "local bus",
            ),
        ),
    ),
    Bench(
        "takeover",
        (),
        ("--rounds", "3", "--patients", "20"),
        (
            Figure(
                "kill -9 -> survivor holds every lease and rings, p99",
                "takeover_p99_s",
                "s",
                "healthy_ring_p99_s",
                "healthy press -> ring",
                "< 5 s",
                lambda v: v < 5.0,
            ),
            Figure(
                "ADT over MLLP, two serve processes",
                "adt_two_instances.per_second",
                "msg/s",
                "adt_one_instance.per_second",
                "one process",
                "ratio >= 1.0",
            ),
        ),
    ),
)


def run_one(bench: Bench, quick: bool) -> dict[str, Any]:
    script = HERE / f"{bench.name}.py"
    if not script.exists():
        return {"error": "not present"}
    args = bench.quick_args if quick else bench.args
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    sys.stdout.write(proc.stdout.rsplit("\n", 2)[0] + "\n" if proc.stdout else "")
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
    try:
        data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no JSON line"}
    data["_seconds"] = round(time.monotonic() - started, 1)
    return data


def rows(bench: Bench, data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for fig in bench.figures:
        value = _get(data, fig.value)
        base = _get(data, fig.baseline) if fig.baseline else None
        ratio = round(value / base, 3) if isinstance(value, int | float) and base else None
        meets = fig.meets(value) if fig.meets and isinstance(value, int | float) else None
        out.append({
            "bench": bench.name, "figure": fig.label, "value": value, "unit": fig.unit,
            "baseline": base, "baseline_label": fig.baseline_label, "ratio": ratio,
            "target": fig.target, "meets_target": meets,
        })  # fmt: skip
    return out


def table(all_rows: list[dict[str, Any]]) -> str:
    head = ("figure", "value", "baseline", "ratio", "target", "met")
    lines = [head]
    for r in all_rows:
        base = f"{r['baseline']} ({r['baseline_label']})" if r["baseline"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[r["meets_target"]]
        value = "-" if r["value"] is None else f"{r['value']} {r['unit']}"
        lines.append((r["figure"], value, base, str(r["ratio"] or "-"), r["target"] or "-", met))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small loads (smoke run)")
    parser.add_argument("--json", default="bench-results.json", help="where to write the table")
    args = parser.parse_args(argv)
    known = {b.name: b for b in BENCHES}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return 2
    chosen = [known[n] for n in args.names] if args.names else list(BENCHES)
    all_rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    for bench in chosen:
        print(f"\n== {bench.name}", flush=True)
        data = run_one(bench, args.quick)
        raw[bench.name] = data
        if "error" in data:
            print(f"   {bench.name}: {data['error']}")
            continue
        all_rows += rows(bench, data)
    print("\n" + table(all_rows))
    Path(args.json).write_text(json.dumps({"rows": all_rows, "raw": raw}, indent=2))
    print(f"\n(written to {args.json})")
    print(json.dumps({"rows": all_rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
