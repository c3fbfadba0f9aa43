//! virtio-gpu control requests (virtio spec 1.2, §5.7), 2D and 3D, as little-endian dwords:
//! plain encoding, unit-tested on the host. The device glue (queues, DMA) is in
//! `arch::virtio_gpu`.

use alloc::vec::Vec;

/// `VIRTIO_GPU_F_VIRGL`: the device takes 3D (virgl) commands.
pub const FEATURE_VIRGL: u64 = 1 << 0;
/// `VIRTIO_F_VERSION_1`.
pub const FEATURE_VERSION_1: u64 = 1 << 32;

/// Control request types.
pub mod cmd {
    pub const GET_DISPLAY_INFO: u32 = 0x0100;
    pub const RESOURCE_CREATE_2D: u32 = 0x0101;
    pub const SET_SCANOUT: u32 = 0x0103;
    pub const RESOURCE_FLUSH: u32 = 0x0104;
    pub const TRANSFER_TO_HOST_2D: u32 = 0x0105;
    pub const RESOURCE_ATTACH_BACKING: u32 = 0x0106;
    pub const RESOURCE_UNREF: u32 = 0x0102;
    pub const CTX_CREATE: u32 = 0x0200;
    pub const CTX_ATTACH_RESOURCE: u32 = 0x0202;
    pub const RESOURCE_CREATE_3D: u32 = 0x0204;
    pub const TRANSFER_TO_HOST_3D: u32 = 0x0205;
    pub const TRANSFER_FROM_HOST_3D: u32 = 0x0206;
    pub const SUBMIT_3D: u32 = 0x0207;
}

/// `VIRTIO_GPU_RESP_OK_NODATA`.
pub const RESP_OK_NODATA: u32 = 0x1100;
/// `VIRTIO_GPU_RESP_OK_DISPLAY_INFO`.
pub const RESP_OK_DISPLAY_INFO: u32 = 0x1101;
/// `VIRTIO_GPU_FLAG_FENCE`: answer only when the work is done.
pub const FLAG_FENCE: u32 = 1;
/// `VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM`.
pub const FORMAT_B8G8R8A8: u32 = 1;
/// Dwords of a response header.
pub const HEADER_WORDS: usize = 6;

/// A response type's name (errors are 0x12xx).
pub fn response_name(kind: u32) -> &'static str {
    match kind {
        RESP_OK_NODATA => "OK_NODATA",
        RESP_OK_DISPLAY_INFO => "OK_DISPLAY_INFO",
        0x1200 => "ERR_UNSPEC",
        0x1201 => "ERR_OUT_OF_MEMORY",
        0x1202 => "ERR_INVALID_SCANOUT_ID",
        0x1203 => "ERR_INVALID_RESOURCE_ID",
        0x1204 => "ERR_INVALID_CONTEXT_ID",
        0x1205 => "ERR_INVALID_PARAMETER",
        _ => "unknown response",
    }
}

/// Which context a request belongs to and whether it carries a fence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// 3D context id (0 for 2D requests).
    pub ctx: u32,
    /// Fence id: the device answers once the work before it is done.
    pub fence: Option<u64>,
}

fn header(kind: u32, target: Target) -> Vec<u32> {
    let (flags, fence) = match target.fence {
        Some(id) => (FLAG_FENCE, id),
        None => (0, 0),
    };
    // type, flags, fence_id (u64), ctx_id, ring_idx + padding
    alloc::vec![
        kind,
        flags,
        fence as u32,
        (fence >> 32) as u32,
        target.ctx,
        0
    ]
}

fn request(kind: u32, target: Target, body: &[u32]) -> Vec<u32> {
    let mut words = header(kind, target);
    words.extend_from_slice(body);
    words
}

/// A rectangle at the origin.
fn rect(width: u32, height: u32) -> [u32; 4] {
    [0, 0, width, height]
}

pub fn get_display_info() -> Vec<u32> {
    request(cmd::GET_DISPLAY_INFO, Target::default(), &[])
}

/// (width, height) of scanout 0 from a `RESP_OK_DISPLAY_INFO`.
pub fn display_size(response: &[u32]) -> Option<(u32, u32)> {
    // header, then per scanout: rect (x, y, w, h), enabled, flags
    (response.first() == Some(&RESP_OK_DISPLAY_INFO) && response.len() >= HEADER_WORDS + 6)
        .then(|| (response[HEADER_WORDS + 2], response[HEADER_WORDS + 3]))
}

pub fn resource_create_2d(resource: u32, width: u32, height: u32) -> Vec<u32> {
    request(
        cmd::RESOURCE_CREATE_2D,
        Target::default(),
        &[resource, FORMAT_B8G8R8A8, width, height],
    )
}

/// Guest memory backing a resource: one contiguous (identity-mapped) range.
pub fn attach_backing(resource: u32, address: u64, bytes: u32) -> Vec<u32> {
    // resource, nr_entries, then { addr (u64), length, padding }
    request(
        cmd::RESOURCE_ATTACH_BACKING,
        Target::default(),
        &[
            resource,
            1,
            address as u32,
            (address >> 32) as u32,
            bytes,
            0,
        ],
    )
}

pub fn set_scanout(scanout: u32, resource: u32, width: u32, height: u32) -> Vec<u32> {
    let mut body = rect(width, height).to_vec();
    body.extend([scanout, resource]);
    request(cmd::SET_SCANOUT, Target::default(), &body)
}

pub fn transfer_to_host_2d(resource: u32, width: u32, height: u32) -> Vec<u32> {
    let mut body = rect(width, height).to_vec();
    body.extend([0, 0, resource, 0]); // offset (u64), resource, padding
    request(cmd::TRANSFER_TO_HOST_2D, Target::default(), &body)
}

pub fn resource_flush(resource: u32, width: u32, height: u32) -> Vec<u32> {
    let mut body = rect(width, height).to_vec();
    body.extend([resource, 0]);
    request(cmd::RESOURCE_FLUSH, Target::default(), &body)
}

pub fn resource_unref(resource: u32) -> Vec<u32> {
    request(cmd::RESOURCE_UNREF, Target::default(), &[resource, 0])
}

/// A 3D context for the default capset (virgl), named `name` (≤ 64 bytes).
pub fn ctx_create(ctx: u32, name: &str) -> Vec<u32> {
    let mut debug_name = [0u8; 64];
    let len = name.len().min(64);
    debug_name[..len].copy_from_slice(&name.as_bytes()[..len]);
    let mut body = alloc::vec![len as u32, 0]; // nlen, context_init
    body.extend(
        debug_name
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
    request(cmd::CTX_CREATE, Target { ctx, fence: None }, &body)
}

pub fn ctx_attach_resource(ctx: u32, resource: u32) -> Vec<u32> {
    request(
        cmd::CTX_ATTACH_RESOURCE,
        Target { ctx, fence: None },
        &[resource, 0],
    )
}

/// A byte buffer resource (`PIPE_BUFFER`, R8_UNORM) bound as `bind`.
pub fn resource_create_buffer(ctx: u32, resource: u32, bytes: u32, bind: u32) -> Vec<u32> {
    const TARGET_BUFFER: u32 = 0;
    const FORMAT_R8_UNORM: u32 = 64;
    // resource, target, format, bind, width, height, depth, array_size, last_level,
    // nr_samples, flags, padding
    request(
        cmd::RESOURCE_CREATE_3D,
        Target { ctx, fence: None },
        &[
            resource,
            TARGET_BUFFER,
            FORMAT_R8_UNORM,
            bind,
            bytes,
            1,
            1,
            1,
            0,
            0,
            0,
            0,
        ],
    )
}

/// Copy `bytes` at byte `offset` of a buffer resource between guest backing and host.
pub fn transfer_buffer(
    to_host: bool,
    target: Target,
    resource: u32,
    offset: u32,
    bytes: u32,
) -> Vec<u32> {
    let kind = if to_host {
        cmd::TRANSFER_TO_HOST_3D
    } else {
        cmd::TRANSFER_FROM_HOST_3D
    };
    // box (x, y, z, w, h, d), offset (u64), resource, level, stride, layer_stride
    request(
        kind,
        target,
        &[offset, 0, 0, bytes, 1, 1, offset, 0, resource, 0, 0, 0],
    )
}

/// SUBMIT_3D of a virgl command stream.
pub fn submit_3d(target: Target, commands: &[u32]) -> Vec<u32> {
    let mut words = request(cmd::SUBMIT_3D, target, &[(commands.len() * 4) as u32, 0]);
    words.extend_from_slice(commands);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_context_and_fence() {
        let w = submit_3d(
            Target {
                ctx: 3,
                fence: Some(0x1_0000_0002),
            },
            &[7, 8],
        );
        assert_eq!(w, [cmd::SUBMIT_3D, FLAG_FENCE, 2, 1, 3, 0, 8, 0, 7, 8]);
        assert_eq!(get_display_info(), [cmd::GET_DISPLAY_INFO, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn request_sizes_match_the_spec() {
        // Sizes in bytes of the spec's structs.
        assert_eq!(resource_create_2d(1, 2, 3).len() * 4, 40);
        assert_eq!(attach_backing(1, 0x1000, 64).len() * 4, 48);
        assert_eq!(set_scanout(0, 1, 2, 3).len() * 4, 48);
        assert_eq!(transfer_to_host_2d(1, 2, 3).len() * 4, 56);
        assert_eq!(resource_flush(1, 2, 3).len() * 4, 48);
        assert_eq!(ctx_create(1, "pxos").len() * 4, 96);
        assert_eq!(resource_create_buffer(1, 2, 3, 4).len() * 4, 72);
        assert_eq!(
            transfer_buffer(true, Target::default(), 1, 0, 4).len() * 4,
            72
        );
    }

    #[test]
    fn display_info_gives_the_first_scanout() {
        let mut r = alloc::vec![RESP_OK_DISPLAY_INFO, 0, 0, 0, 0, 0];
        r.extend([0, 0, 1280, 800, 1, 0]);
        assert_eq!(display_size(&r), Some((1280, 800)));
        r[0] = 0x1200;
        assert_eq!(display_size(&r), None);
        assert_eq!(response_name(0x1203), "ERR_INVALID_RESOURCE_ID");
    }

    #[test]
    fn context_name_is_padded() {
        let w = ctx_create(1, "pxos");
        assert_eq!(w[6], 4);
        assert_eq!(w[8].to_le_bytes(), *b"pxos");
        assert_eq!(w[9], 0);
    }
}
