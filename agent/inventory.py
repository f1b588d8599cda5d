"""What this node has: CPU, memory and disk from psutil; GPUs from NVML when it loads (nvidia-ml-py);
optionally overridden by a declared inventory (to reserve capacity, or to test GPU scheduling)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psutil

from kiln.core.models import GpuInfo, Inventory

log = logging.getLogger("kiln.agent.inventory")


def nvml_gpus() -> tuple[tuple[GpuInfo, ...], str, str]:
    """(GPUs, driver version, CUDA version) from NVML, or nothing where NVML does not load."""
    try:
        import pynvml
    except ImportError:
        return (), "", ""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return (), "", ""
    try:
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            util = pynvml.nvmlDeviceGetUtilizationRates(h)
            temp = pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
            gpus.append(
                GpuInfo(
                    _text(pynvml.nvmlDeviceGetUUID(h)),
                    _text(pynvml.nvmlDeviceGetName(h)),
                    int(mem.total),
                    float(util.gpu),
                    float(mem.used),
                    float(temp),
                )
            )
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        return tuple(gpus), driver, f"{cuda // 1000}.{cuda % 1000 // 10}"
    except pynvml.NVMLError as e:
        log.warning("NVML loaded but failed to read GPUs: %s", e)
        return (), "", ""
    finally:
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def collect(data_dir: Path, declared: Path | None = None) -> Inventory:
    disk = psutil.disk_usage(str(data_dir))
    memory = psutil.virtual_memory()
    gpus, driver, cuda = nvml_gpus()
    inventory = Inventory(
        cpus=float(psutil.cpu_count() or 1),
        memory_bytes=memory.total,
        disk_bytes=disk.total,
        gpus=gpus,
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_used_bytes=memory.total - memory.available,
        disk_free_bytes=disk.free,
        driver_version=driver,
        cuda_version=cuda,
    )
    return apply_declared(inventory, declared) if declared else inventory


def apply_declared(inventory: Inventory, path: Path) -> Inventory:
    """Overrides what a JSON file declares:
    {"cpus": 4, "memory_bytes": ..., "gpus": [{"uuid": ..., "model": ..., "memory_bytes": ...}]}."""
    data = json.loads(path.read_text())
    fields = {k: v for k, v in data.items() if k in ("cpus", "memory_bytes", "disk_bytes")}
    if "gpus" in data:
        fields["gpus"] = tuple(GpuInfo(**g) for g in data["gpus"])
    return Inventory(**{**inventory.__dict__, **fields})
