"""Reading DICOM folders into volumes, and writing files atomically. Never imports torch or Qt."""

from medview.io.assemble import PHILIPS_DISPLAYED, PHILIPS_FLOATING, assemble_volume, iter_assemble
from medview.io.index import Catalog, VolumeSpec, index_volumes
from medview.io.loader import load_volume, load_volumes, open_folder
from medview.io.scan import CancelToken, ScanResult, SkippedFile, scan_folder

__all__ = [
    "PHILIPS_DISPLAYED", "PHILIPS_FLOATING", "CancelToken", "Catalog", "ScanResult", "SkippedFile",
    "VolumeSpec", "assemble_volume", "index_volumes", "iter_assemble", "load_volume", "load_volumes",
    "open_folder", "scan_folder",
]
