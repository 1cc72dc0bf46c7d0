"""The preferences a reader sets once, kept in QSettings and put to work when the window starts.

- reader's name (report/reader): the report dialog's reader: every PDF page, the HTML, the SR observer.
- display order (display/reversed): which slice Home shows, which way the slider runs (set_reversed_order).
- scroll direction (display/wheel_reversed): which way the mouse wheel steps through the slices (SliceView).
- W/L presets per modality (presets/<MODALITY>): keys 1-9 and the Window menu (`presets_for`): in place of the
  built-in CT list; before the percentile windows on other modalities. The scanner's windows stay first.
- cine speed (display/cine_rate): the speed cine (C) starts at, slices per second; ] and [ change it for now.
- models folder (ai/models_folder): the AI dock lists the bundled models and this folder's (default
  $MEDVIEW_MODELS, else ~/.local/share/medview/models).
- report folder (report/folder): where the report dialog proposes to write (default ~/medview-reports).

The command line does not read these (no Qt there): `medview report --reader`, `$MEDVIEW_MODELS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSettings

from medview import cli_values
from medview.core.window_level import Window
from medview.errors import MedviewError

CINE_DEFAULT = 10.0
CINE_RANGE = (1.0, 60.0)


@dataclass
class Preferences:
    reader: str = ""
    reversed_order: bool = False
    wheel_reversed: bool = False
    presets: dict[str, tuple[Window, ...]] = field(default_factory=dict)  # modality → the reader's presets
    cine_rate: float = CINE_DEFAULT
    models_folder: str = ""  # "" = the registry's default
    report_folder: str = ""  # "" = ~/medview-reports

    @classmethod
    def load(cls, settings: QSettings) -> Preferences:
        """The kept preferences; a value that cannot be read (a hand-edited file) falls back to its default."""
        presets = {}
        settings.beginGroup("presets")
        for modality in settings.childKeys():
            try:
                presets[modality.upper()] = parse_presets("\n".join(_strings(settings.value(modality))))
            except MedviewError:
                continue
        settings.endGroup()
        try:
            rate = float(settings.value("display/cine_rate", CINE_DEFAULT))
        except (TypeError, ValueError):
            rate = CINE_DEFAULT
        return cls(reader=str(settings.value("report/reader", "") or ""),
                   reversed_order=_flag(settings.value("display/reversed", False)),
                   wheel_reversed=_flag(settings.value("display/wheel_reversed", False)),
                   presets=presets,
                   cine_rate=min(max(rate, CINE_RANGE[0]), CINE_RANGE[1]) if rate == rate else CINE_DEFAULT,
                   models_folder=str(settings.value("ai/models_folder", "") or ""),
                   report_folder=str(settings.value("report/folder", "") or ""))

    def save(self, settings: QSettings) -> None:
        settings.setValue("report/reader", self.reader.strip())
        settings.setValue("display/reversed", bool(self.reversed_order))
        settings.setValue("display/wheel_reversed", bool(self.wheel_reversed))
        settings.remove("presets")
        for modality, windows in sorted(self.presets.items()):
            settings.setValue(f"presets/{modality.upper()}", [preset_line(w) for w in windows])
        settings.setValue("display/cine_rate", float(self.cine_rate))
        settings.setValue("ai/models_folder", self.models_folder.strip())
        settings.setValue("report/folder", self.report_folder.strip())
        settings.sync()


def _strings(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _flag(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def preset_line(window: Window) -> str:
    """One preset as the reader writes it: 'lung: 1500/-600'."""
    return f"{window.name}: {window.width:g}/{window.level:g}"


def parse_presets(text: str) -> tuple[Window, ...]:
    """Presets, one per line, 'NAME: WIDTH/LEVEL' (in the modality's values: HU for CT); blank lines skipped.
    A line that is not a preset is refused with its number, so a typo never silently drops a window."""
    windows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, figures = line.rpartition(":")
        if not colon or not name.strip():
            raise MedviewError(f"preset line {number} is 'NAME: WIDTH/LEVEL', e.g. 'lung: 1500/-600', not {line!r}")
        window = cli_values.window(figures.strip(), f"preset line {number}")
        windows.append(Window(window.width, window.level, name.strip()))
    if len(windows) > 9:
        raise MedviewError(f"{len(windows)} presets: keys 1–9 hold nine at most")
    return tuple(windows)


def model_roots(preferences: Preferences) -> list[Path] | None:
    """Where the AI dock looks for models: the bundled ones and the preferred folder (None: the default)."""
    if not preferences.models_folder.strip():
        return None
    from medview.ai.registry import BUNDLED

    return [BUNDLED, Path(preferences.models_folder).expanduser()]


def apply(window, preferences: Preferences) -> None:
    """Put the preferences to work in a main window (at start, and when the dialog is accepted)."""
    window.set_reversed_order(preferences.reversed_order)
    window.reverse_action.setChecked(preferences.reversed_order)
    window.view.wheel_reversed = preferences.wheel_reversed
    window.view.reader_presets = dict(preferences.presets)
    window.view.presets = []  # made again, with the reader's, when next needed
    window.cine_rate = preferences.cine_rate
    window.cine.setInterval(round(1000 / preferences.cine_rate))
    roots = model_roots(preferences)
    if roots != getattr(window, "model_roots", None):
        window.model_roots = roots
        if getattr(window, "inference", None) is not None:
            window.inference.reload_models()


def attach(window) -> None:
    """The window's hook: File → Preferences… and Help → About, and the kept preferences put to work."""
    from PySide6.QtGui import QAction, QKeySequence

    window.model_roots = None
    file_menu = window.menuBar().actions()[0].menu()
    action = QAction("&Preferences…", window)
    action.setShortcut(QKeySequence("Ctrl+,"))
    action.triggered.connect(lambda: open_preferences(window))
    quit_action = next((a for a in file_menu.actions() if a.text().replace("&", "") == "Quit"), None)
    file_menu.insertAction(quit_action, action)
    help_menu = window.menuBar().addMenu("&Help")
    about = help_menu.addAction("&About medview")
    about.triggered.connect(lambda: open_about(window))
    window.preferences_action, window.about_action = action, about
    apply(window, Preferences.load(window.settings))


def open_preferences(window):
    from medview.gui.preferences_dialog import PreferencesDialog

    window.preferences_dialog = PreferencesDialog(window)
    window.preferences_dialog.show()
    return window.preferences_dialog


def open_about(window):
    from medview.gui.about_dialog import AboutDialog

    window.about_dialog = AboutDialog(window)
    window.about_dialog.show()
    return window.about_dialog
