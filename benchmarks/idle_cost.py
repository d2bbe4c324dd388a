"""What going idle costs on this machine: `python -m benchmarks.idle_cost`.

The same unit of pure CPU work (what a signed request costs a replica: JSON out and in, a
SHA3 digest, a secp256k1 signature and its recovery) is timed back to back, then with a
sleep between units.  On bare metal the two cost about the same.  On a virtual machine whose
vCPUs halt as soon as the guest idles (here: Firecracker, cpuidle `haltpoll` with
`guest_halt_poll_ns=0`), every wake-up resumes on cold caches, and the unit costs more the
longer it slept.

That is why half of the peak is not half the work on this machine: a replica at half load
sleeps between requests, a replica at its peak never does (`benchmarks/README.md`, issue 13).
`make bench` runs this probe first and reports it with the run.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import coincurve

# Seconds slept between two units; 0 is back to back.
GAPS = (0.0, 0.0002, 0.001, 0.003)
_DOCUMENT = {
    "msgtype": "assignprocessmsg",
    "colonyid": "c" * 64,
    "timeout": 10,
    "spec": {"funcname": "noop", "args": list(range(20)), "env": {"k": "v" * 40}},
}


class _Unit:
    """One request's worth of CPU: encode, digest, sign, decode, recover."""

    def __init__(self) -> None:
        self._key = coincurve.PrivateKey(hashlib.sha256(b"idle-cost").digest())

    def __call__(self) -> None:
        text = json.dumps(_DOCUMENT)
        digest = hashlib.sha3_256(text.encode()).digest()
        signature = self._key.sign_recoverable(digest, hasher=None)
        json.loads(text)
        coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)


def _per_unit(unit: _Unit, gap: float, seconds: float) -> float:
    """CPU seconds per unit (this thread's), running units for about `seconds`."""
    units, spent, deadline = 0, 0.0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.thread_time()
        unit()
        spent += time.thread_time() - began
        units += 1
        if gap:
            time.sleep(gap)
    return spent / units


def idle_policy() -> str:
    """How this machine idles a CPU, as far as the kernel tells (empty if it does not)."""
    parts = []
    cpuidle = Path("/sys/devices/system/cpu/cpuidle")
    for name in ("current_driver", "current_governor"):
        try:
            parts.append(f"cpuidle {name.split('_')[1]} {(cpuidle / name).read_text().strip()}")
        except OSError:
            continue
    try:
        cmdline = Path("/proc/cmdline").read_text().split()
    except OSError:
        cmdline = []
    parts += [arg for arg in cmdline if "halt_poll" in arg or arg.startswith("idle=")]
    return ", ".join(parts)


def probe(seconds_per_gap: float = 1.5, rounds: int = 3) -> dict[str, Any]:
    """CPU µs per unit at each gap (median of `rounds` interleaved rounds: other work on the
    machine comes and goes), and each gap's cost relative to back to back."""
    unit = _Unit()
    _per_unit(unit, 0.0, min(0.2, seconds_per_gap))  # warm up: imports, allocator, caches
    found: dict[float, list[float]] = {gap: [] for gap in GAPS}
    for _ in range(rounds):
        for gap in GAPS:
            found[gap].append(_per_unit(unit, gap, seconds_per_gap / rounds))
    rows = [
        {"gap_ms": gap * 1e3, "cpu_us_per_unit": statistics.median(found[gap]) * 1e6}
        for gap in GAPS
    ]
    busy = rows[0]["cpu_us_per_unit"]
    for row in rows:
        row["ratio"] = row["cpu_us_per_unit"] / busy
    return {"gaps": rows, "idle_policy": idle_policy()}


def summary(machine: dict[str, Any]) -> str:
    """One sentence for a report: what sleeping between units costs here."""
    gaps = ", ".join(
        f"{row['ratio']:.2f}x after {row['gap_ms']:g} ms" for row in machine["gaps"][1:]
    )
    first = machine["gaps"][0]
    policy = f" ({machine['idle_policy']})" if machine["idle_policy"] else ""
    return (
        f"going idle costs CPU on this machine{policy}: a unit of request-like work takes "
        f"{first['cpu_us_per_unit']:.0f} µs back to back and {gaps} of sleep; a replica "
        "below its peak sleeps between requests and pays this on each wake-up"
    )


def main() -> None:
    machine = probe()
    for row in machine["gaps"]:
        print(
            f"sleep {row['gap_ms']:4g} ms between units: {row['cpu_us_per_unit']:6.1f} µs "
            f"CPU per unit ({row['ratio']:.2f}x)"
        )
    print(summary(machine))


if __name__ == "__main__":
    main()
