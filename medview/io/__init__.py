"""Reading DICOM folders into volumes, and writing files atomically. Never imports torch or Qt."""

import warnings

from medview.io.assemble import PHILIPS_DISPLAYED, PHILIPS_FLOATING, assemble_volume, iter_assemble
from medview.io.index import Catalog, VolumeSpec, index_volumes
from medview.io.loader import load_volume, load_volumes, open_folder
from medview.io.scan import CancelToken, ScanResult, SkippedFile, scan_folder

# pydicom warns on every odd header it repairs; medview reports what matters per file (skipped-file
# reasons, volume warnings) and keeps the terminal and the GUI free of per-file noise.
warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\..*)?")

__all__ = [
    "PHILIPS_DISPLAYED", "PHILIPS_FLOATING", "CancelToken", "Catalog", "ScanResult", "SkippedFile",
    "VolumeSpec", "assemble_volume", "index_volumes", "iter_assemble", "load_volume", "load_volumes",
    "open_folder", "scan_folder",
]
