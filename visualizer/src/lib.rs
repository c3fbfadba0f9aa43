//! Heatmaps and hotspot reports (issue 5: not written yet).
