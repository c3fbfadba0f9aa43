//! Drawing into a B8G8R8A8 framebuffer.
