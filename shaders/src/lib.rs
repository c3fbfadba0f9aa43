//! WGSL sources of the pxOS GPU runtime (issue 4: not written yet).
