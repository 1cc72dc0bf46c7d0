"""`medview [PATH]`: the window. Flags for documentation and tests: --series, --slice, --window, --screenshot.

With no PATH the bundled sample study opens. With --screenshot the window renders once the series is loaded
(and any requested classification is drawn), saves a PNG and exits.
"""

from __future__ import annotations

import argparse
import gc
import sys

from medview import cli_values
from medview.errors import MedviewError
from medview.io.scan import start_scan_workers
from medview.memory import give_back_large_buffers
from medview.resources import resource

SAMPLE = resource("sample", "mr_brain_t1post_tcia_btp")


def build_viewer_parser() -> argparse.ArgumentParser:
    """The viewer's flags (also printed by `medview --help`)."""
    parser = argparse.ArgumentParser(prog="medview", description="Open the viewer (research use only).")
    parser.add_argument("path", nargs="?", help="a DICOM folder, DICOMDIR or file (default: the bundled sample)")
    parser.add_argument("--series", help="SeriesInstanceUID or 0-based index in `medview info`'s list")
    parser.add_argument("--slice", type=int, help="0-based k; shown as slice k+1")
    parser.add_argument("--window", help="WIDTH/LEVEL in the volume's values (HU for CT)")
    parser.add_argument("--layout", default="single",
                        help="single (the slice view) or mpr (axial, coronal and sagittal reformats, 1×3)")
    parser.add_argument("--crosshair", metavar="X,Y,Z",
                        help="the MPR crosshair in LPS mm, e.g. -57.4,131.2,-520.4 (default: the volume's centre; "
                             "not with --slice)")
    parser.add_argument("--screenshot", help="render the window to this PNG once loaded, then exit")
    parser.add_argument("--size", default="1400x900", help="window size for --screenshot, WIDTHxHEIGHT")
    parser.add_argument("--classify-at", help="COL,ROW: classify the region at this pixel (with --slice)")
    parser.add_argument("--classify-slice", action="store_true", help="classify the slice shown")
    parser.add_argument("--classify-series", action="store_true", help="search every slice with the detector")
    return parser


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    return build_viewer_parser().parse_args(cli_values.join_values(argv))


def prepare_process() -> None:
    """Before Qt starts: fork the header readers while this process runs one thread, and hand the GIL to
    the GUI thread every millisecond (not every 5 ms) while workers parse headers in Python."""
    give_back_large_buffers()
    start_scan_workers()
    sys.setswitchinterval(0.001)


def keep_the_collector_off_start_up() -> None:
    """Once the window is built: the start-up objects (modules, Qt wrappers, pyqtgraph's items) leave the
    garbage collector's sight. A full collection walks every tracked object while holding the GIL, in whichever
    thread happened to trigger it: with them in sight, one ran for 160-230 ms in a loading thread while the
    GUI thread waited. They live as long as the app, so nothing is lost by not walking them."""
    gc.collect()
    gc.freeze()


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    window = cli_values.window(args.window) if args.window is not None else None
    layout = cli_values.layout(args.layout)
    crosshair = cli_values.crosshair(args.crosshair) if args.crosshair is not None else None
    path = cli_values.path(args.path) if args.path is not None else SAMPLE
    size = cli_values.size(args.size)
    point = cli_values.point(args.classify_at, "--classify-at") if args.classify_at is not None else None
    if crosshair is not None and args.slice is not None:
        raise MedviewError("--crosshair and --slice cannot go together: the crosshair is a patient position (LPS mm) "
                           "that sets every plane; use one of them")
    if crosshair is not None:
        layout = "mpr"
    from medview.gui.display_check import QtStartGuard, display_problem

    problem = display_problem()
    if problem is not None:
        print(f"medview: {problem}", file=sys.stderr)
        return 2
    prepare_process()

    import pyqtgraph as pg
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from medview.gui.main_window import MainWindow

    with QtStartGuard():
        app = QApplication.instance() or QApplication(sys.argv[:1])
    _identify(app)
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    main_window = MainWindow()
    series = int(args.series) if args.series and args.series.isdigit() else args.series
    outcome = {"code": 0}
    main_window.catalog_ready.connect(lambda catalog: _check_slice(main_window, catalog, series, args.slice,
                                                                   outcome, app))
    if crosshair is not None:
        main_window.catalog_ready.connect(lambda catalog: _check_crosshair(main_window, catalog, series, crosshair,
                                                                           outcome, app))
    if layout == "mpr":
        main_window.set_layout("mpr", crosshair=crosshair)
    if args.screenshot:
        main_window.resize(*size)
        _arrange_for_screenshot(main_window, args, point, outcome, app, mpr=layout == "mpr")
    main_window.show()
    keep_the_collector_off_start_up()
    QTimer.singleShot(0, lambda: main_window.open_path(str(path), series, args.slice, window))
    app.exec()
    return outcome["code"]


def _identify(app) -> None:
    """The desktop's name and icon for the window: the ones the desktop entry (packaging/linux) installs."""
    from PySide6.QtGui import QIcon

    from medview.desktop_entry import source_folder

    app.setDesktopFileName("medview")
    icon = source_folder() / "icons" / "256x256" / "medview.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))


def _check_slice(main_window, catalog, series, k: int | None, outcome: dict, app) -> None:
    """--slice is checked against the series once the folder is indexed: outside it, one line and exit 2
    (a series that is not there is the window's own error)."""
    from medview.errors import MedviewError

    try:
        n_slices = catalog.find(series).n_slices
    except MedviewError:
        return
    try:
        cli_values.slice_index(k, n_slices)
    except MedviewError as error:
        print(f"medview: {error}", file=sys.stderr)
        outcome["code"] = 2
        outcome["refused"] = True
        main_window.wanted_slice = None
        main_window.cancel_loading()
        app.quit()


def _check_crosshair(main_window, catalog, series, crosshair, outcome: dict, app) -> None:
    """--crosshair must lie in the volume (checked on the index's geometry, before any pixel is decoded):
    outside it, one line and exit 2."""
    from medview.core.planes import inside_stack

    try:
        spec = catalog.find(series)
    except MedviewError:
        return
    if spec.has_geometry and inside_stack(spec.positions, spec.row_cosine, spec.column_cosine, spec.pixel_spacing,
                                          (spec.n_slices, spec.rows, spec.columns), crosshair):
        return
    x, y, z = crosshair
    why = "outside the volume" if spec.has_geometry else "not usable: the series has no patient geometry"
    print(f"medview: --crosshair {x:g},{y:g},{z:g} is {why} (LPS mm; see `medview info` for its origin and extent)",
          file=sys.stderr)
    outcome["code"] = 2
    outcome["refused"] = True
    main_window.cancel_loading()
    app.quit()


def _arrange_for_screenshot(main_window, args, point, outcome: dict, app, mpr: bool = False) -> None:
    """Save the window to args.screenshot once the series is loaded (and classified, if asked), then quit."""
    from PySide6.QtCore import Qt, QTimer

    def save() -> None:
        if outcome.get("refused"):
            return
        main_window.grab().save(args.screenshot)
        print(f"screenshot saved to {args.screenshot}")
        app.quit()

    def loaded(_index: int) -> None:
        if args.classify_at or args.classify_slice or args.classify_series:
            panel = getattr(main_window, "inference", None)
            if panel is None:
                print("medview: no inference panel in this window", file=sys.stderr)
                outcome["code"] = 2
            else:
                panel.result_drawn.connect(lambda *_: QTimer.singleShot(200, save))
                panel.series_finished.connect(lambda *_: QTimer.singleShot(200, save))
                panel.failed.connect(failed)
                if args.classify_series:
                    panel.classify_series()
                elif point is not None:
                    panel.classify_point(*point)
                else:
                    panel.classify_slice()
                return
        if mpr:  # once every plane of the crosshair is drawn (the window shows the MPR views on series_loaded)
            main_window.mpr.drawn.connect(lambda: QTimer.singleShot(300, save), Qt.ConnectionType.SingleShotConnection)
            return
        QTimer.singleShot(300, save)

    def failed(message: str) -> None:
        print(f"medview: {message}", file=sys.stderr)
        outcome["code"] = 2
        QTimer.singleShot(300, save)

    main_window.series_loaded.connect(loaded)
    main_window.failed.connect(failed)
