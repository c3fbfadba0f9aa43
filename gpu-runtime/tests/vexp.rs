// TEMPORARY experiment, not committed.
use std::time::Instant;
use wgpu::util::DeviceExt;
#[test]
#[ignore]
fn vexp() {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(instance.request_adapter(&Default::default())).unwrap();
    let limits = adapter.limits();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor { required_limits: limits, ..Default::default() })).unwrap();
    let len: u32 = 4 << 20;
    let reps = 20;
    let memory = device.create_buffer(&wgpu::BufferDescriptor { label: None, size: 3 * len as u64 * 4, usage: wgpu::BufferUsages::STORAGE, mapped_at_creation: false });
    let args = device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&[0u32, len, 2 * len, len]), usage: wgpu::BufferUsages::UNIFORM });
    let files = std::env::var("VEXP").unwrap();
    for f in files.split(',') {
        let mut src = std::fs::read_to_string(f).unwrap();
        let vq = src.contains("fn run_vector");
        let has3 = src.contains("binding(3)");
        if vq { src = format!("{}\n{}\nconst PER: u32 = 4096u;", if src.contains("OP_V") { shaders::GENERATED } else { "" }, src); }
        let per: u32 = src.split("const PER: u32 = ").nth(1).unwrap().split('u').next().unwrap().parse().unwrap();
        let d = wgpu::ShaderModuleDescriptor { label: None, source: wgpu::ShaderSource::Wgsl(src.into()) };
        let module = if std::env::var("UNCHECKED").is_ok() { unsafe { device.create_shader_module_trusted(d, wgpu::ShaderRuntimeChecks::unchecked()) } } else { device.create_shader_module(d) };
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor { label: None, layout: None, module: &module, entry_point: Some(if vq { "run_vector" } else { "main" }), compilation_options: Default::default(), cache: None });
        let queue_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&[0u32, 0x62, 0, len, 2 * len, len, 0, 0]), usage: wgpu::BufferUsages::STORAGE });
        let group = if vq && !has3 {
            device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &pipeline.get_bind_group_layout(0), entries: &[wgpu::BindGroupEntry { binding: 0, resource: memory.as_entire_binding() }, wgpu::BindGroupEntry { binding: 1, resource: queue_buf.as_entire_binding() }, wgpu::BindGroupEntry { binding: 2, resource: memory.as_entire_binding() }] })
        } else if vq {
            let ops = device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&[0x62u32, 0, 0, 0]), usage: wgpu::BufferUsages::UNIFORM });
            device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &pipeline.get_bind_group_layout(0), entries: &[wgpu::BindGroupEntry { binding: 0, resource: memory.as_entire_binding() }, wgpu::BindGroupEntry { binding: 1, resource: queue_buf.as_entire_binding() }, wgpu::BindGroupEntry { binding: 2, resource: memory.as_entire_binding() }, wgpu::BindGroupEntry { binding: 3, resource: ops.as_entire_binding() }] })
        } else {
            device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &pipeline.get_bind_group_layout(0), entries: &[wgpu::BindGroupEntry { binding: 0, resource: memory.as_entire_binding() }, wgpu::BindGroupEntry { binding: 1, resource: args.as_entire_binding() }] })
        };
        let mut times = vec![];
        for _ in 0..4 {
            let start = Instant::now();
            let mut encoder = device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &group, &[]);
                for _ in 0..reps { pass.dispatch_workgroups(len.div_ceil(per), 1, 1); }
            }
            let idx = queue.submit([encoder.finish()]);
            device.poll(wgpu::PollType::Wait { submission_index: Some(idx), timeout: None }).unwrap();
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let t = times[1];
        eprintln!("{f}: {:.3} Gelem/s ({:.2} GB/s at 12 B/elem) times {:?}", len as f64 * reps as f64 / t / 1e9, len as f64 * reps as f64 * 12.0 / t / 1e9, times);
    }
}
