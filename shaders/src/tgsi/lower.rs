//! Statements, functions and entry points: naga IR → TGSI control flow.

use std::collections::HashMap;

use naga::{
    AddressSpace, Barrier, Block, Expression, Function, Handle, Module, Statement, SwitchValue,
    TypeInner,
};

use super::text::{Array, Assembler, Memory, SV_BLOCK_ID, SV_THREAD_ID, Src};
use super::{Error, Translation};

/// A value in registers: a scalar, a composite, or a pointer.
#[derive(Clone, Debug)]
pub(super) enum Value {
    Scalar(Src),
    Composite(Vec<Value>),
    Ptr(Ptr),
}

/// A pointer: a base, a constant word offset and an optional dynamic word index.
#[derive(Clone, Debug)]
pub(super) struct Ptr {
    pub base: Base,
    pub offset: u32,
    pub index: Option<Src>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Base {
    /// Registers of a private or function variable (index into `vars`).
    Var(usize),
    /// A buffer or shared memory, addressed in words.
    Mem(Memory),
}

/// Where a private or function variable lives.
#[derive(Clone, Debug)]
pub(super) enum Storage {
    /// One register per word, addressed with constant offsets only.
    Scalars(Vec<u32>),
    /// A run-time indexed register array (one word per element).
    Array(Array),
}

/// Which function a local variable belongs to (`None`: the entry point).
type FnKey = Option<Handle<Function>>;

/// One inlined function instance.
pub(super) struct Frame<'a> {
    pub function: &'a Function,
    pub info: &'a naga::valid::FunctionInfo,
    pub values: HashMap<Handle<Expression>, Value>,
    pub args: Vec<Value>,
    pub locals: HashMap<Handle<naga::LocalVariable>, Ptr>,
    /// Registers receiving the return value.
    pub result: Vec<u32>,
}

/// The naga constructs that `break`, `continue` and `return` leave, with
/// the TGSI loop each one exits to.
enum Construct {
    Loop {
        break_to: usize,
        continue_to: Option<usize>,
    },
    Switch {
        break_to: Option<usize>,
    },
    Function {
        return_to: Option<usize>,
    },
}

pub(super) struct Translator<'a> {
    pub module: &'a Module,
    pub info: &'a naga::valid::ModuleInfo,
    source: &'a str,
    pub asm: Assembler,
    pub vars: Vec<Storage>,
    globals: HashMap<Handle<naga::GlobalVariable>, Ptr>,
    arrays: HashMap<(FnKey, Handle<naga::LocalVariable>), Array>,
    pub frames: Vec<Frame<'a>>,
    /// Open TGSI loops, each with the outer loops that exits from inside it
    /// still have to leave (pending in `exit_reg`).
    loops: Vec<Vec<usize>>,
    constructs: Vec<Construct>,
    exit_reg: u32,
    shared_words: u32,
}

impl<'a> Translator<'a> {
    pub fn new(module: &'a Module, info: &'a naga::valid::ModuleInfo, source: &'a str) -> Self {
        Translator {
            module,
            info,
            source,
            asm: Assembler::default(),
            vars: Vec::new(),
            globals: HashMap::new(),
            arrays: HashMap::new(),
            frames: Vec::new(),
            loops: Vec::new(),
            constructs: Vec::new(),
            exit_reg: 0,
            shared_words: 0,
        }
    }

    /// An `Unsupported` error at `span`.
    pub fn unsupported(&self, what: impl Into<String>, span: naga::Span) -> Error {
        let at = if span.is_defined() {
            let loc = span.location(self.source);
            format!("{}:{}", loc.line_number, loc.line_position)
        } else {
            "<unknown position>".to_string()
        };
        Error::Unsupported {
            what: what.into(),
            at,
        }
    }

    pub fn frame(&self) -> &Frame<'a> {
        self.frames.last().expect("inside a function")
    }

    /// Translate entry point `index` into a complete shader.
    pub fn entry_point(mut self, index: usize) -> Result<Translation, Error> {
        let module = self.module;
        let ep = &module.entry_points[index];
        self.reserve_arrays(&ep.function)?;
        self.exit_reg = self.asm.temp();
        let zero = self.asm.imm(0);
        self.asm.op("MOV", self.exit_reg, &[zero]);
        let args = self.builtins(&ep.function, ep.workgroup_size)?;
        self.globals(ep.workgroup_size)?;
        let info = self.info.get_entry_point(index);
        self.inline(&ep.function, None, info, args)?;
        let workgroup = ep.workgroup_size;
        let shared_bytes = self.shared_words * 4;
        let instructions = self.asm.instructions();
        let text = std::mem::take(&mut self.asm).finish(workgroup, shared_bytes);
        let mut buffers: Vec<u32> = self
            .globals
            .values()
            .filter_map(|p| match p.base {
                Base::Mem(Memory::Buffer(slot)) => Some(slot),
                _ => None,
            })
            .collect();
        buffers.sort_unstable();
        Ok(Translation {
            text,
            workgroup,
            shared_bytes,
            buffers,
            instructions,
        })
    }

    /// Arrays get TEMP ranges before any scalar register: reserve one per
    /// private array and per array-typed local of every function.
    fn reserve_arrays(&mut self, entry: &'a Function) -> Result<(), Error> {
        let module = self.module;
        let functions = module
            .functions
            .iter()
            .map(|(h, f)| (Some(h), f))
            .chain(std::iter::once((None, entry)));
        for (key, function) in functions {
            for (h, local) in function.local_variables.iter() {
                if let Some(len) = self.array_len(&module.types[local.ty].inner) {
                    let array = self.asm.array(len);
                    self.arrays.insert((key, h), array);
                }
            }
        }
        for (h, global) in module.global_variables.iter() {
            if global.space == AddressSpace::Private
                && let Some(len) = self.array_len(&module.types[global.ty].inner)
            {
                let array = self.asm.array(len);
                self.vars.push(Storage::Array(array));
                self.globals.insert(
                    h,
                    Ptr {
                        base: Base::Var(self.vars.len() - 1),
                        offset: 0,
                        index: None,
                    },
                );
            }
        }
        Ok(())
    }

    /// Elements of a fixed-size array of one-word elements, if `ty` is one.
    fn array_len(&self, ty: &TypeInner) -> Option<u32> {
        match *ty {
            TypeInner::Array {
                size: naga::ArraySize::Constant(n),
                stride: 4,
                ..
            } => Some(n.get()),
            _ => None,
        }
    }

    /// Words a value of type `ty` occupies.
    pub fn words(&self, ty: &TypeInner) -> u32 {
        ty.size(self.module.to_ctx()).div_ceil(4)
    }

    /// The entry point's builtin arguments, computed from the SV registers.
    fn builtins(&mut self, function: &Function, block: [u32; 3]) -> Result<Vec<Value>, Error> {
        use naga::BuiltIn as B;
        let mut args = Vec::new();
        for arg in &function.arguments {
            let sv = |r: u32| (0..3u8).map(move |c| Src::Sv(r, c));
            let value = match arg.binding {
                Some(naga::Binding::BuiltIn(B::LocalInvocationId)) => composite(sv(SV_THREAD_ID)),
                Some(naga::Binding::BuiltIn(B::WorkGroupId)) => composite(sv(SV_BLOCK_ID)),
                Some(naga::Binding::BuiltIn(B::NumWorkGroups)) => {
                    composite(sv(super::text::SV_GRID_SIZE))
                }
                Some(naga::Binding::BuiltIn(B::GlobalInvocationId)) => {
                    let mut parts = Vec::new();
                    for c in 0..3u8 {
                        let size = self.asm.imm(block[c as usize]);
                        let v = self.asm.value(
                            "UMAD",
                            &[Src::Sv(SV_BLOCK_ID, c), size, Src::Sv(SV_THREAD_ID, c)],
                        );
                        parts.push(Value::Scalar(v));
                    }
                    Value::Composite(parts)
                }
                Some(naga::Binding::BuiltIn(B::LocalInvocationIndex)) => {
                    Value::Scalar(self.local_index(block))
                }
                _ => {
                    return Err(self.unsupported(
                        format!("entry point argument {:?}", arg.binding),
                        naga::Span::UNDEFINED,
                    ));
                }
            };
            args.push(value);
        }
        Ok(args)
    }

    /// `local_invocation_index` = x + width * (y + height * z).
    fn local_index(&mut self, block: [u32; 3]) -> Src {
        let height = self.asm.imm(block[1]);
        let width = self.asm.imm(block[0]);
        let yz = self.asm.value(
            "UMAD",
            &[Src::Sv(SV_THREAD_ID, 2), height, Src::Sv(SV_THREAD_ID, 1)],
        );
        self.asm
            .value("UMAD", &[yz, width, Src::Sv(SV_THREAD_ID, 0)])
    }

    /// Map every global variable to its storage; zero private and workgroup
    /// variables as WGSL requires.
    fn globals(&mut self, block: [u32; 3]) -> Result<(), Error> {
        let module = self.module;
        for (h, global) in module.global_variables.iter() {
            let ty = &module.types[global.ty].inner;
            let ptr = match global.space {
                AddressSpace::Storage { .. } | AddressSpace::Uniform => {
                    let binding = global.binding.as_ref().ok_or_else(|| {
                        self.unsupported("a buffer without a binding", naga::Span::UNDEFINED)
                    })?;
                    if binding.group != 0 {
                        return Err(self.unsupported(
                            format!(
                                "bind group {} (only group 0 maps to shader buffers)",
                                binding.group
                            ),
                            naga::Span::UNDEFINED,
                        ));
                    }
                    Ptr {
                        base: Base::Mem(Memory::Buffer(binding.binding)),
                        offset: 0,
                        index: None,
                    }
                }
                AddressSpace::WorkGroup => {
                    let offset = self.shared_words;
                    self.shared_words += self.words(ty);
                    Ptr {
                        base: Base::Mem(Memory::Shared),
                        offset,
                        index: None,
                    }
                }
                AddressSpace::Private => {
                    let ptr = match self.globals.get(&h) {
                        Some(array) => array.clone(),
                        None => self.scalar_var(ty),
                    };
                    let init = match global.init {
                        Some(init) => self.global_value(init)?,
                        None => self.zero(ty),
                    };
                    self.write(ty, &ptr, 0, &init)?;
                    ptr
                }
                space => {
                    return Err(
                        self.unsupported(format!("address space {space:?}"), naga::Span::UNDEFINED)
                    );
                }
            };
            self.globals.insert(h, ptr);
        }
        if self.shared_words > 0 {
            // Invocation 0 zeroes the shared block; everyone waits for it.
            let index = self.local_index(block);
            let zero = self.asm.imm(0);
            let first = self.asm.value("USEQ", &[index, zero]);
            let c = self.asm.src(first);
            self.asm.line(&format!("UIF {c}"));
            let shared = Ptr {
                base: Base::Mem(Memory::Shared),
                offset: 0,
                index: None,
            };
            for w in 0..self.shared_words {
                self.write_word(&shared, w, zero);
            }
            self.asm.line("ENDIF");
            self.asm.line("BARRIER");
        }
        Ok(())
    }

    pub fn global_ptr(&self, h: Handle<naga::GlobalVariable>) -> Ptr {
        self.globals[&h].clone()
    }

    /// Fresh registers for a variable addressed with constant offsets.
    fn scalar_var(&mut self, ty: &TypeInner) -> Ptr {
        let regs = (0..self.words(ty)).map(|_| self.asm.temp()).collect();
        self.vars.push(Storage::Scalars(regs));
        Ptr {
            base: Base::Var(self.vars.len() - 1),
            offset: 0,
            index: None,
        }
    }

    /// Inline `function` with `args`; returns its result registers.
    fn inline(
        &mut self,
        function: &'a Function,
        key: FnKey,
        info: &'a naga::valid::FunctionInfo,
        args: Vec<Value>,
    ) -> Result<Vec<u32>, Error> {
        let module = self.module;
        let result: Vec<u32> = match &function.result {
            Some(r) => (0..self.words(&module.types[r.ty].inner))
                .map(|_| self.asm.temp())
                .collect(),
            None => Vec::new(),
        };
        self.frames.push(Frame {
            function,
            info,
            values: HashMap::new(),
            args,
            locals: HashMap::new(),
            result: result.clone(),
        });
        for (h, local) in function.local_variables.iter() {
            let ty = &module.types[local.ty].inner;
            let ptr = match self.arrays.get(&(key, h)) {
                Some(&array) => {
                    self.vars.push(Storage::Array(array));
                    Ptr {
                        base: Base::Var(self.vars.len() - 1),
                        offset: 0,
                        index: None,
                    }
                }
                None => self.scalar_var(ty),
            };
            let init = match local.init {
                Some(init) => self.expr(init)?,
                None => self.zero(ty),
            };
            self.write(ty, &ptr, 0, &init)?;
            self.frames.last_mut().expect("frame").locals.insert(h, ptr);
        }
        let wrap = needs_return_wrap(&function.body);
        let return_to = wrap.then(|| self.open_loop());
        self.constructs.push(Construct::Function { return_to });
        self.block(&function.body)?;
        self.constructs.pop();
        if wrap {
            self.asm.line("BRK");
            self.close_loop();
        }
        self.frames.pop();
        Ok(result)
    }

    fn open_loop(&mut self) -> usize {
        self.asm.line("BGNLOOP");
        self.loops.push(Vec::new());
        self.loops.len() - 1
    }

    /// Close the innermost TGSI loop and continue any exit pending past it.
    fn close_loop(&mut self) {
        let pending = self.loops.pop().expect("open loop");
        self.asm.line("ENDLOOP");
        if pending.is_empty() {
            return;
        }
        let here = self.loops.len() - 1;
        if pending.contains(&here) {
            let target = self.asm.imm(here as u32 + 1);
            let hit = self.asm.value("USEQ", &[Src::Temp(self.exit_reg), target]);
            let c = self.asm.src(hit);
            self.asm.line(&format!("UIF {c}"));
            let zero = self.asm.imm(0);
            self.asm.op("MOV", self.exit_reg, &[zero]);
            self.asm.line("BRK");
            self.asm.line("ENDIF");
        }
        let further: Vec<usize> = pending.into_iter().filter(|&t| t < here).collect();
        if !further.is_empty() {
            let e = self.asm.src(Src::Temp(self.exit_reg));
            self.asm.line(&format!("UIF {e}"));
            self.asm.line("BRK");
            self.asm.line("ENDIF");
            let outer = self.loops.last_mut().expect("loop");
            for t in further {
                if !outer.contains(&t) {
                    outer.push(t);
                }
            }
        }
    }

    /// Leave TGSI loops up to and including loop `target`.
    fn exit(&mut self, target: usize) {
        let innermost = self.loops.len() - 1;
        if target < innermost {
            let marker = self.asm.imm(target as u32 + 1);
            self.asm.op("MOV", self.exit_reg, &[marker]);
            if !self.loops[innermost].contains(&target) {
                self.loops[innermost].push(target);
            }
        }
        self.asm.line("BRK");
    }

    pub fn block(&mut self, block: &'a Block) -> Result<(), Error> {
        for (statement, span) in block.span_iter() {
            self.statement(statement, *span)?;
        }
        Ok(())
    }

    fn statement(&mut self, statement: &'a Statement, span: naga::Span) -> Result<(), Error> {
        match statement {
            Statement::Emit(range) => {
                for h in range.clone() {
                    self.expr(h)?;
                }
            }
            Statement::Block(b) => self.block(b)?,
            Statement::If {
                condition,
                accept,
                reject,
            } => {
                let c = self.scalar(*condition)?;
                let c = self.asm.src(c);
                self.asm.line(&format!("UIF {c}"));
                self.block(accept)?;
                if !reject.is_empty() {
                    self.asm.line("ELSE");
                    self.block(reject)?;
                }
                self.asm.line("ENDIF");
            }
            Statement::Switch { selector, cases } => self.switch(*selector, cases, span)?,
            Statement::Loop {
                body,
                continuing,
                break_if,
            } => self.loop_(body, continuing, *break_if)?,
            Statement::Break => {
                // The innermost construct decides (a break never leaves a function).
                let target = self.constructs.last().and_then(|c| match *c {
                    Construct::Loop { break_to, .. } => Some(break_to),
                    Construct::Switch { break_to } => break_to,
                    Construct::Function { .. } => None,
                });
                let target = target.ok_or_else(|| self.unsupported("this break", span))?;
                self.exit(target);
            }
            Statement::Continue => {
                let target = self.constructs.iter().rev().find_map(|c| match *c {
                    Construct::Loop { continue_to, .. } => Some(continue_to),
                    Construct::Switch { .. } => None,
                    Construct::Function { .. } => Some(None),
                });
                let target = target
                    .flatten()
                    .ok_or_else(|| self.unsupported("this continue", span))?;
                self.exit(target);
            }
            Statement::Return { value } => self.return_(*value, span)?,
            Statement::Store { pointer, value } => {
                let ty = self.pointee(*pointer);
                let ptr = self.pointer(*pointer, span)?;
                let value = self.expr(*value)?;
                self.write(&ty, &ptr, 0, &value)?;
            }
            Statement::Call {
                function,
                arguments,
                result,
            } => {
                let args = arguments
                    .iter()
                    .map(|a| self.expr(*a))
                    .collect::<Result<Vec<_>, _>>()?;
                let module = self.module;
                let callee = &module.functions[*function];
                let regs = self.inline(callee, Some(*function), &self.info[*function], args)?;
                if let (Some(result), Some(r)) = (result, &callee.result) {
                    let ty = &module.types[r.ty].inner;
                    let value = self.value_of_words(ty, &mut regs.iter().map(|&t| Src::Temp(t)));
                    self.set(*result, value);
                }
            }
            Statement::Atomic {
                pointer,
                fun,
                value,
                result,
            } => self.atomic(*pointer, fun, *value, *result, span)?,
            Statement::WorkGroupUniformLoad { pointer, result } => {
                self.asm.line("BARRIER");
                let ty = self.pointee(*pointer);
                let ptr = self.pointer(*pointer, span)?;
                let value = self.read(&ty, &ptr, 0)?;
                self.asm.line("BARRIER");
                self.set(*result, value);
            }
            Statement::ControlBarrier(barrier) => {
                self.membar(*barrier);
                self.asm.line("BARRIER");
            }
            Statement::MemoryBarrier(barrier) => self.membar(*barrier),
            other => {
                let name = format!("{other:?}");
                let name = name.split(['(', ' ', '{']).next().unwrap_or("statement");
                return Err(self.unsupported(format!("the {name} statement"), span));
            }
        }
        Ok(())
    }

    fn membar(&mut self, barrier: Barrier) {
        // TGSI_MEMBAR_SHADER_BUFFER | ATOMIC_BUFFER, and SHARED | THREAD_GROUP.
        let mut flags = 0;
        if barrier.contains(Barrier::STORAGE) {
            flags |= 0x3;
        }
        if barrier.contains(Barrier::WORK_GROUP) {
            flags |= 0x18;
        }
        if flags != 0 {
            let f = self.asm.imm(flags);
            let f = self.asm.src(f);
            self.asm.line(&format!("MEMBAR {f}"));
        }
    }

    fn return_(
        &mut self,
        value: Option<Handle<Expression>>,
        span: naga::Span,
    ) -> Result<(), Error> {
        if let Some(value) = value {
            let value = self.expr(value)?;
            let mut leaves = Vec::new();
            flatten(&value, &mut leaves);
            let result = self.frame().result.clone();
            for (dst, src) in result.iter().zip(leaves) {
                self.asm.op("MOV", *dst, &[src]);
            }
        }
        let target = self.constructs.iter().rev().find_map(|c| match *c {
            Construct::Function { return_to } => Some(return_to),
            _ => None,
        });
        match target {
            Some(Some(t)) => self.exit(t),
            Some(None) => {} // the function's last statement
            None => return Err(self.unsupported("return outside a function", span)),
        }
        Ok(())
    }

    fn loop_(
        &mut self,
        body: &'a Block,
        continuing: &'a Block,
        break_if: Option<Handle<Expression>>,
    ) -> Result<(), Error> {
        let break_to = self.open_loop();
        // `continue` must still run `continuing`: the body gets a one-pass
        // inner loop that `continue` leaves.
        let has_continue = block_has(body, Exit::Continue);
        let continue_to = has_continue.then(|| self.open_loop());
        self.constructs.push(Construct::Loop {
            break_to,
            continue_to,
        });
        self.block(body)?;
        if has_continue {
            self.asm.line("BRK");
            self.close_loop();
        }
        self.block(continuing)?;
        self.constructs.pop();
        if let Some(c) = break_if {
            let c = self.scalar(c)?;
            let c = self.asm.src(c);
            self.asm.line(&format!("UIF {c}"));
            self.asm.line("BRK");
            self.asm.line("ENDIF");
        }
        self.close_loop();
        Ok(())
    }

    /// A switch as flat `UIF`s on precomputed case conditions.
    fn switch(
        &mut self,
        selector: Handle<Expression>,
        cases: &'a [naga::SwitchCase],
        span: naga::Span,
    ) -> Result<(), Error> {
        let selector = self.scalar(selector)?;
        // Group cases that fall through with empty bodies into the next one.
        let mut groups: Vec<(Vec<u32>, bool, &'a Block)> = Vec::new();
        let (mut values, mut default) = (Vec::new(), false);
        for case in cases {
            match case.value {
                SwitchValue::I32(v) => values.push(v as u32),
                SwitchValue::U32(v) => values.push(v),
                SwitchValue::Default => default = true,
            }
            if case.fall_through {
                if !case.body.is_empty() {
                    return Err(
                        self.unsupported("a switch case falling through into another", span)
                    );
                }
                continue;
            }
            groups.push((std::mem::take(&mut values), default, &case.body));
            default = false;
        }
        let mut conditions = Vec::new();
        let mut any: Option<Src> = None;
        for (values, is_default, _) in &groups {
            if *is_default {
                conditions.push(None);
                continue;
            }
            let mut cond: Option<Src> = None;
            for &v in values {
                let imm = self.asm.imm(v);
                let eq = self.asm.value("USEQ", &[selector, imm]);
                cond = Some(match cond {
                    Some(c) => self.asm.value("OR", &[c, eq]),
                    None => eq,
                });
            }
            let cond = cond.expect("a case has a value");
            any = Some(match any {
                Some(a) => self.asm.value("OR", &[a, cond]),
                None => cond,
            });
            conditions.push(Some(cond));
        }
        let otherwise = any.map(|a| self.asm.value("NOT", &[a]));
        let wrap = cases.iter().any(|c| block_has(&c.body, Exit::Break));
        let break_to = wrap.then(|| self.open_loop());
        self.constructs.push(Construct::Switch { break_to });
        for ((_, _, body), cond) in groups.iter().zip(conditions) {
            match cond.or(otherwise) {
                Some(c) => {
                    let c = self.asm.src(c);
                    self.asm.line(&format!("UIF {c}"));
                    self.block(body)?;
                    self.asm.line("ENDIF");
                }
                None => self.block(body)?,
            }
        }
        self.constructs.pop();
        if wrap {
            self.asm.line("BRK");
            self.close_loop();
        }
        Ok(())
    }

    /// Record the value of a statement's result expression.
    pub fn set(&mut self, h: Handle<Expression>, value: Value) {
        self.frames
            .last_mut()
            .expect("frame")
            .values
            .insert(h, value);
    }

    /// The type `pointer` points to.
    pub fn pointee(&self, pointer: Handle<Expression>) -> TypeInner {
        let module = self.module;
        match *self.frame().info[pointer].ty.inner_with(&module.types) {
            TypeInner::Pointer { base, .. } => module.types[base].inner.clone(),
            TypeInner::ValuePointer {
                size: None, scalar, ..
            } => TypeInner::Scalar(scalar),
            TypeInner::ValuePointer {
                size: Some(size),
                scalar,
                ..
            } => TypeInner::Vector { size, scalar },
            ref other => other.clone(),
        }
    }

    /// Read a value of type `ty` at `ptr` + `offset` words.
    pub fn read(&mut self, ty: &TypeInner, ptr: &Ptr, offset: u32) -> Result<Value, Error> {
        let mut words = Vec::new();
        for w in 0..self.words(ty) {
            words.push(self.read_word(ptr, offset + w));
        }
        Ok(self.value_of_words(ty, &mut words.into_iter()))
    }

    /// Build a value of type `ty` from consecutive words.
    pub fn value_of_words(&self, ty: &TypeInner, words: &mut impl Iterator<Item = Src>) -> Value {
        let module = self.module;
        let take = |n: u32, words: &mut dyn Iterator<Item = Src>| -> Vec<Src> {
            (0..n)
                .map(|_| words.next().expect("enough words"))
                .collect()
        };
        match *ty {
            TypeInner::Vector { size, .. } => composite(take(size as u32, words)),
            TypeInner::Array {
                base,
                size: naga::ArraySize::Constant(n),
                stride,
            } => {
                let elem = &module.types[base].inner;
                let pad = stride / 4 - self.words(elem);
                let items = (0..n.get())
                    .map(|_| {
                        let v = self.value_of_words(elem, words);
                        take(pad, words);
                        v
                    })
                    .collect();
                Value::Composite(items)
            }
            TypeInner::Struct { ref members, span } => {
                let mut at = 0;
                let mut items = Vec::new();
                for m in members {
                    take(m.offset / 4 - at, words);
                    let elem = &module.types[m.ty].inner;
                    items.push(self.value_of_words(elem, words));
                    at = m.offset / 4 + self.words(elem);
                }
                take(span / 4 - at, words);
                Value::Composite(items)
            }
            _ => Value::Scalar(take(1, words)[0]),
        }
    }

    fn read_word(&mut self, ptr: &Ptr, offset: u32) -> Src {
        match ptr.base {
            Base::Mem(memory) => {
                let addr = self.byte_address(ptr, offset);
                let t = self.asm.temp();
                let res = self.asm.memory(memory);
                let a = self.asm.src(addr);
                self.asm.line(&format!("LOAD TEMP[{t}].x, {res}, {a}"));
                Src::Temp(t)
            }
            Base::Var(v) => match self.vars[v].clone() {
                Storage::Scalars(regs) => self
                    .asm
                    .value("MOV", &[Src::Temp(regs[(ptr.offset + offset) as usize])]),
                Storage::Array(array) => self.asm.array_read(array, ptr.index, ptr.offset + offset),
            },
        }
    }

    /// Write `value` (of type `ty`) at `ptr` + `offset` words.
    pub fn write(
        &mut self,
        ty: &TypeInner,
        ptr: &Ptr,
        offset: u32,
        value: &Value,
    ) -> Result<(), Error> {
        let mut leaves = Vec::new();
        flatten(value, &mut leaves);
        let mut words = Vec::new();
        self.word_offsets(ty, 0, &mut words);
        for (w, src) in words.into_iter().zip(leaves) {
            self.write_word(ptr, offset + w, src);
        }
        Ok(())
    }

    /// Word offsets of the scalars of `ty`, in order.
    fn word_offsets(&self, ty: &TypeInner, base: u32, out: &mut Vec<u32>) {
        let module = self.module;
        match *ty {
            TypeInner::Vector { size, .. } => out.extend((0..size as u32).map(|i| base + i)),
            TypeInner::Array {
                base: elem,
                size: naga::ArraySize::Constant(n),
                stride,
            } => {
                for i in 0..n.get() {
                    self.word_offsets(&module.types[elem].inner, base + i * stride / 4, out);
                }
            }
            TypeInner::Struct { ref members, .. } => {
                for m in members {
                    self.word_offsets(&module.types[m.ty].inner, base + m.offset / 4, out);
                }
            }
            _ => out.push(base),
        }
    }

    pub fn write_word(&mut self, ptr: &Ptr, offset: u32, value: Src) {
        match ptr.base {
            Base::Mem(memory) => {
                let addr = self.byte_address(ptr, offset);
                let res = self.asm.memory(memory);
                let (a, v) = (self.asm.src(addr), self.asm.src(value));
                self.asm.line(&format!("STORE {res}.x, {a}, {v}"));
            }
            Base::Var(v) => match self.vars[v].clone() {
                Storage::Scalars(regs) => {
                    self.asm
                        .op("MOV", regs[(ptr.offset + offset) as usize], &[value])
                }
                Storage::Array(array) => {
                    self.asm
                        .array_write(array, ptr.index, ptr.offset + offset, value)
                }
            },
        }
    }

    /// Byte address of word `offset` past `ptr` in a buffer or shared memory.
    pub fn byte_address(&mut self, ptr: &Ptr, offset: u32) -> Src {
        let bytes = self.asm.imm((ptr.offset + offset) * 4);
        match ptr.index {
            None => bytes,
            Some(index) => {
                let four = self.asm.imm(4);
                self.asm.value("UMAD", &[index, four, bytes])
            }
        }
    }
}

/// A composite of scalars.
pub(super) fn composite(parts: impl IntoIterator<Item = Src>) -> Value {
    Value::Composite(parts.into_iter().map(Value::Scalar).collect())
}

/// The scalar leaves of a value, in order.
pub(super) fn flatten(value: &Value, out: &mut Vec<Src>) {
    match value {
        Value::Scalar(s) => out.push(*s),
        Value::Composite(items) => items.iter().for_each(|i| flatten(i, out)),
        Value::Ptr(_) => {}
    }
}

/// Statements that leave a construct.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Break,
    Continue,
    Return,
}

/// Whether `block` holds an `exit` that leaves the construct around it:
/// breaks inside nested loops and switches, and continues inside nested
/// loops, target those instead.
fn block_has(block: &Block, exit: Exit) -> bool {
    block.iter().any(|s| statement_has(s, exit))
}

fn statement_has(s: &Statement, exit: Exit) -> bool {
    match s {
        Statement::Break => exit == Exit::Break,
        Statement::Continue => exit == Exit::Continue,
        Statement::Return { .. } => exit == Exit::Return,
        Statement::Block(b) => block_has(b, exit),
        Statement::If { accept, reject, .. } => block_has(accept, exit) || block_has(reject, exit),
        Statement::Switch { cases, .. } => {
            exit != Exit::Break && cases.iter().any(|c| block_has(&c.body, exit))
        }
        Statement::Loop {
            body, continuing, ..
        } => exit == Exit::Return && (block_has(body, exit) || block_has(continuing, exit)),
        _ => false,
    }
}

/// Whether a function body returns anywhere but its last statement.
fn needs_return_wrap(body: &Block) -> bool {
    let n = body.len();
    body.iter().enumerate().any(|(i, s)| match s {
        Statement::Return { .. } => i + 1 < n,
        _ => statement_has(s, Exit::Return),
    })
}
