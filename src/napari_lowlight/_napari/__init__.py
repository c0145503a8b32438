"""The napari edge: the dock widget (the only Qt code), the viewer API and the
sample data, with the plugin's manifest (``napari.yaml``) beside them.

Importing this package imports nothing from napari; napari loads each module
when the manifest's contributions are first used.
"""
