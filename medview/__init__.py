"""medview: a desktop DICOM viewer for CT and MRI with a convolutional network at hand.

Research use only. ``import medview`` stays light: it imports neither torch nor Qt.
"""

__version__ = "0.1.0"
