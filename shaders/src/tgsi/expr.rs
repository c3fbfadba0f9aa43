//! Expressions: naga IR values → TGSI registers.

use naga::{
    AtomicFunction, BinaryOperator as B, Expression, Handle, Literal, MathFunction, ScalarKind,
    TypeInner, UnaryOperator,
};

use super::Error;
use super::lower::{Base, Ptr, Translator, Value, composite, flatten};
use super::text::Src;

impl<'a> Translator<'a> {
    /// The value of expression `h` of the current function (computed once).
    pub fn expr(&mut self, h: Handle<Expression>) -> Result<Value, Error> {
        if let Some(v) = self.frame().values.get(&h) {
            return Ok(v.clone());
        }
        let value = self.compute(h)?;
        self.set(h, value.clone());
        Ok(value)
    }

    /// A scalar expression's register or immediate.
    pub fn scalar(&mut self, h: Handle<Expression>) -> Result<Src, Error> {
        match self.expr(h)? {
            Value::Scalar(s) => Ok(s),
            _ => Err(self.unsupported("a non-scalar value here", self.span(h))),
        }
    }

    /// A pointer expression's pointer.
    pub fn pointer(&mut self, h: Handle<Expression>, span: naga::Span) -> Result<Ptr, Error> {
        match self.expr(h)? {
            Value::Ptr(p) => Ok(p),
            _ => Err(self.unsupported("a non-pointer operand", span)),
        }
    }

    fn span(&self, h: Handle<Expression>) -> naga::Span {
        self.frame().function.expressions.get_span(h)
    }

    fn ty(&self, h: Handle<Expression>) -> &'a TypeInner {
        let module = self.module;
        let info: &'a naga::valid::FunctionInfo = self.frame().info;
        info[h].ty.inner_with(&module.types)
    }

    fn kind(&self, h: Handle<Expression>) -> Option<ScalarKind> {
        self.ty(h).scalar_kind()
    }

    fn compute(&mut self, h: Handle<Expression>) -> Result<Value, Error> {
        let function = self.frame().function;
        let span = self.span(h);
        Ok(match function.expressions[h] {
            Expression::Literal(l) => Value::Scalar(self.literal(l, span)?),
            Expression::Constant(c) => self.global_value(self.module.constants[c].init)?,
            Expression::ZeroValue(ty) => self.zero(&self.module.types[ty].inner),
            Expression::Compose { ref components, .. } => Value::Composite(
                components
                    .iter()
                    .map(|c| self.expr(*c))
                    .collect::<Result<_, _>>()?,
            ),
            Expression::Splat { size, value } => {
                Value::Composite(vec![self.expr(value)?; size as usize])
            }
            Expression::Swizzle {
                size,
                vector,
                pattern,
            } => match self.expr(vector)? {
                Value::Composite(items) => Value::Composite(
                    pattern[..size as usize]
                        .iter()
                        .map(|c| items[*c as usize].clone())
                        .collect(),
                ),
                _ => return Err(self.unsupported("a swizzle of a non-vector", span)),
            },
            Expression::Access { base, index } => {
                let index = self.scalar(index)?;
                self.access(base, index, span)?
            }
            Expression::AccessIndex { base, index } => self.access_index(base, index, span)?,
            Expression::FunctionArgument(i) => self.frame().args[i as usize].clone(),
            Expression::GlobalVariable(g) => Value::Ptr(self.global_ptr(g)),
            Expression::LocalVariable(l) => Value::Ptr(self.frame().locals[&l].clone()),
            Expression::Load { pointer } => {
                let ty = self.pointee(pointer);
                let ptr = self.pointer(pointer, span)?;
                self.read(&ty, &ptr, 0)?
            }
            Expression::Unary { op, expr } => {
                let kind = self.kind(expr);
                let v = self.expr(expr)?;
                self.map1(&v, &mut |t, x| t.unary(op, kind, x, span))?
            }
            Expression::Binary { op, left, right } => {
                let kind = self.kind(left);
                let (l, r) = (self.expr(left)?, self.expr(right)?);
                self.map2(&l, &r, &mut |t, a, b| t.binary(op, kind, a, b, span))?
            }
            Expression::Select {
                condition,
                accept,
                reject,
            } => {
                let c = self.expr(condition)?;
                let (a, r) = (self.expr(accept)?, self.expr(reject)?);
                self.select(&c, &a, &r)
            }
            Expression::Math {
                fun,
                arg,
                arg1,
                arg2,
                ..
            } => self.math(fun, arg, arg1, arg2, span)?,
            Expression::As {
                expr,
                kind,
                convert,
            } => {
                let from = self.kind(expr);
                let v = self.expr(expr)?;
                self.map1(&v, &mut |t, x| t.cast(x, from, kind, convert, span))?
            }
            ref other => {
                let name = format!("{other:?}");
                let name = name.split(['(', ' ', '{']).next().unwrap_or("expression");
                return Err(self.unsupported(format!("the {name} expression"), span));
            }
        })
    }

    /// The bits of a literal.
    fn literal(&mut self, l: Literal, span: naga::Span) -> Result<Src, Error> {
        let bits = match l {
            Literal::U32(v) => v,
            Literal::I32(v) => v as u32,
            Literal::Bool(b) => {
                if b {
                    u32::MAX
                } else {
                    0
                }
            }
            Literal::F32(f) => f.to_bits(),
            Literal::AbstractInt(v) => v as u32,
            Literal::AbstractFloat(f) => (f as f32).to_bits(),
            other => return Err(self.unsupported(format!("the literal {other:?}"), span)),
        };
        Ok(self.asm.imm(bits))
    }

    /// A fully evaluated module-level expression (constants, initialisers).
    pub fn global_value(&mut self, h: Handle<Expression>) -> Result<Value, Error> {
        let module = self.module;
        let span = module.global_expressions.get_span(h);
        Ok(match module.global_expressions[h] {
            Expression::Literal(l) => Value::Scalar(self.literal(l, span)?),
            Expression::Constant(c) => self.global_value(module.constants[c].init)?,
            Expression::ZeroValue(ty) => self.zero(&module.types[ty].inner),
            Expression::Compose { ref components, .. } => Value::Composite(
                components
                    .iter()
                    .map(|c| self.global_value(*c))
                    .collect::<Result<_, _>>()?,
            ),
            Expression::Splat { size, value } => {
                Value::Composite(vec![self.global_value(value)?; size as usize])
            }
            ref other => {
                return Err(self.unsupported(format!("the constant expression {other:?}"), span));
            }
        })
    }

    /// The zero value of a type.
    pub fn zero(&mut self, ty: &TypeInner) -> Value {
        let zero = self.asm.imm(0);
        let words = self.words(ty);
        self.value_of_words(ty, &mut std::iter::repeat_n(zero, words as usize))
    }

    /// `base[index]` with a run-time index.
    fn access(
        &mut self,
        base: Handle<Expression>,
        index: Src,
        span: naga::Span,
    ) -> Result<Value, Error> {
        match self.expr(base)? {
            Value::Ptr(mut ptr) => {
                let stride = match self.pointee(base) {
                    TypeInner::Array { stride, .. } => stride / 4,
                    TypeInner::Vector { .. } => 1,
                    other => return Err(self.unsupported(format!("indexing {other:?}"), span)),
                };
                if let Base::Var(_) = ptr.base
                    && (stride != 1 || ptr.index.is_some())
                {
                    return Err(
                        self.unsupported("run-time indexing of nested private arrays", span)
                    );
                }
                let scaled = if stride == 1 {
                    index
                } else {
                    let s = self.asm.imm(stride);
                    self.asm.value("UMUL", &[index, s])
                };
                ptr.index = Some(match ptr.index {
                    Some(old) => self.asm.value("UADD", &[old, scaled]),
                    None => scaled,
                });
                Ok(Value::Ptr(ptr))
            }
            Value::Composite(items) => {
                // A value indexed at run time: select among its elements.
                let mut result = items[0].clone();
                for (i, item) in items.iter().enumerate().skip(1) {
                    let imm = self.asm.imm(i as u32);
                    let hit = self.asm.value("USEQ", &[index, imm]);
                    result = self.select(&Value::Scalar(hit), item, &result);
                }
                Ok(result)
            }
            Value::Scalar(_) => Err(self.unsupported("indexing a scalar", span)),
        }
    }

    /// `base.member` or `base[constant]`.
    fn access_index(
        &mut self,
        base: Handle<Expression>,
        index: u32,
        span: naga::Span,
    ) -> Result<Value, Error> {
        match self.expr(base)? {
            Value::Ptr(mut ptr) => {
                ptr.offset += match self.pointee(base) {
                    TypeInner::Struct { members, .. } => members[index as usize].offset / 4,
                    TypeInner::Array { stride, .. } => index * stride / 4,
                    TypeInner::Vector { .. } => index,
                    other => return Err(self.unsupported(format!("indexing {other:?}"), span)),
                };
                Ok(Value::Ptr(ptr))
            }
            Value::Composite(items) => Ok(items[index as usize].clone()),
            Value::Scalar(_) => Err(self.unsupported("indexing a scalar", span)),
        }
    }

    /// Apply `f` to every scalar of `v`.
    fn map1(
        &mut self,
        v: &Value,
        f: &mut dyn FnMut(&mut Self, Src) -> Result<Src, Error>,
    ) -> Result<Value, Error> {
        Ok(match v {
            Value::Scalar(x) => Value::Scalar(f(self, *x)?),
            Value::Composite(items) => Value::Composite(
                items
                    .iter()
                    .map(|i| self.map1(i, f))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Ptr(_) => v.clone(),
        })
    }

    /// Apply `f` componentwise (a scalar operand is splatted).
    fn map2(
        &mut self,
        a: &Value,
        b: &Value,
        f: &mut dyn FnMut(&mut Self, Src, Src) -> Result<Src, Error>,
    ) -> Result<Value, Error> {
        Ok(match (a, b) {
            (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(f(self, *x, *y)?),
            (Value::Composite(xs), Value::Composite(ys)) => Value::Composite(
                xs.iter()
                    .zip(ys)
                    .map(|(x, y)| self.map2(x, y, f))
                    .collect::<Result<_, _>>()?,
            ),
            (Value::Composite(xs), s @ Value::Scalar(_)) => Value::Composite(
                xs.iter()
                    .map(|x| self.map2(x, s, f))
                    .collect::<Result<_, _>>()?,
            ),
            (s @ Value::Scalar(_), Value::Composite(ys)) => Value::Composite(
                ys.iter()
                    .map(|y| self.map2(s, y, f))
                    .collect::<Result<_, _>>()?,
            ),
            _ => a.clone(),
        })
    }

    /// `select(reject, accept, condition)`, componentwise.
    fn select(&mut self, c: &Value, a: &Value, r: &Value) -> Value {
        match (c, a, r) {
            (Value::Scalar(c), Value::Scalar(a), Value::Scalar(r)) => {
                Value::Scalar(self.asm.value("UCMP", &[*c, *a, *r]))
            }
            (_, Value::Composite(xs), Value::Composite(ys)) => Value::Composite(
                xs.iter()
                    .zip(ys)
                    .enumerate()
                    .map(|(i, (x, y))| {
                        let ci = match c {
                            Value::Composite(cs) => cs[i].clone(),
                            other => other.clone(),
                        };
                        self.select(&ci, x, y)
                    })
                    .collect(),
            ),
            _ => a.clone(),
        }
    }

    fn unary(
        &mut self,
        op: UnaryOperator,
        kind: Option<ScalarKind>,
        x: Src,
        span: naga::Span,
    ) -> Result<Src, Error> {
        Ok(match (op, kind) {
            (UnaryOperator::Negate, Some(ScalarKind::Float)) => {
                let minus_one = self.asm.imm((-1.0f32).to_bits());
                self.asm.value("MUL", &[x, minus_one])
            }
            (UnaryOperator::Negate, _) => self.asm.value("INEG", &[x]),
            (UnaryOperator::LogicalNot | UnaryOperator::BitwiseNot, Some(k))
                if k != ScalarKind::Float =>
            {
                self.asm.value("NOT", &[x])
            }
            _ => return Err(self.unsupported(format!("{op:?} on {kind:?}"), span)),
        })
    }

    fn binary(
        &mut self,
        op: B,
        kind: Option<ScalarKind>,
        a: Src,
        b: Src,
        span: naga::Span,
    ) -> Result<Src, Error> {
        use ScalarKind::{Float, Sint};
        let float = kind == Some(Float);
        let signed = kind == Some(Sint);
        let name = match op {
            B::Add => {
                if float {
                    "ADD"
                } else {
                    "UADD"
                }
            }
            B::Subtract if float => {
                let t = self.asm.temp();
                let (x, y) = (self.asm.src(a), self.asm.src(b));
                self.asm.line(&format!("ADD TEMP[{t}].x, {x}, -{y}"));
                return Ok(Src::Temp(t));
            }
            B::Subtract => {
                let negated = self.asm.value("INEG", &[b]);
                return Ok(self.asm.value("UADD", &[a, negated]));
            }
            B::Multiply => {
                if float {
                    "MUL"
                } else {
                    "UMUL"
                }
            }
            B::Divide if float => "DIV",
            B::Divide | B::Modulo if !float => return Ok(self.int_divide(op, signed, a, b)),
            B::Equal => {
                if float {
                    "FSEQ"
                } else {
                    "USEQ"
                }
            }
            B::NotEqual => {
                if float {
                    "FSNE"
                } else {
                    "USNE"
                }
            }
            B::Less | B::Greater => {
                if float {
                    "FSLT"
                } else if signed {
                    "ISLT"
                } else {
                    "USLT"
                }
            }
            B::GreaterEqual | B::LessEqual => {
                if float {
                    "FSGE"
                } else if signed {
                    "ISGE"
                } else {
                    "USGE"
                }
            }
            B::And | B::LogicalAnd if !float => "AND",
            B::InclusiveOr | B::LogicalOr if !float => "OR",
            B::ExclusiveOr if !float => "XOR",
            B::ShiftLeft | B::ShiftRight if !float => {
                // WGSL takes the shift amount modulo 32.
                let mask = self.asm.imm(31);
                let amount = self.asm.value("AND", &[b, mask]);
                let name = match (op, signed) {
                    (B::ShiftLeft, _) => "SHL",
                    (_, true) => "ISHR",
                    _ => "USHR",
                };
                return Ok(self.asm.value(name, &[a, amount]));
            }
            _ => return Err(self.unsupported(format!("{op:?} on {kind:?}"), span)),
        };
        // `a > b` is `b < a`, `a <= b` is `b >= a`.
        let swap = matches!(op, B::Greater | B::LessEqual);
        let (x, y) = if swap { (b, a) } else { (a, b) };
        Ok(self.asm.value(name, &[x, y]))
    }

    /// Integer `/` and `%` with WGSL's results where C's are undefined:
    /// a zero divisor (and i32::MIN / -1) divide by 1 instead.
    fn int_divide(&mut self, op: B, signed: bool, a: Src, b: Src) -> Src {
        let zero = self.asm.imm(0);
        let one = self.asm.imm(1);
        let mut bad = self.asm.value("USEQ", &[b, zero]);
        if signed {
            let min = self.asm.imm(i32::MIN as u32);
            let minus_one = self.asm.imm(u32::MAX);
            let is_min = self.asm.value("USEQ", &[a, min]);
            let is_minus_one = self.asm.value("USEQ", &[b, minus_one]);
            let overflow = self.asm.value("AND", &[is_min, is_minus_one]);
            bad = self.asm.value("OR", &[bad, overflow]);
        }
        let divisor = self.asm.value("UCMP", &[bad, one, b]);
        match (op, signed) {
            (B::Divide, true) => self.asm.value("IDIV", &[a, divisor]),
            (B::Divide, false) => self.asm.value("UDIV", &[a, divisor]),
            (_, false) => self.asm.value("UMOD", &[a, divisor]),
            (_, true) => {
                // TGSI MOD becomes GLSL `%`, whose sign is undefined for negative operands
                // (llvmpipe: -7 % 2 = 1); WGSL truncates: a - (a / b) * b.
                let quotient = self.asm.value("IDIV", &[a, divisor]);
                let product = self.asm.value("UMUL", &[quotient, divisor]);
                let negated = self.asm.value("INEG", &[product]);
                self.asm.value("UADD", &[a, negated])
            }
        }
    }

    fn cast(
        &mut self,
        x: Src,
        from: Option<ScalarKind>,
        to: ScalarKind,
        convert: Option<u8>,
        span: naga::Span,
    ) -> Result<Src, Error> {
        use ScalarKind::{Bool, Float, Sint, Uint};
        let Some(from) = from else {
            return Err(self.unsupported("a cast of a non-scalar", span));
        };
        if convert.is_none() || from == to {
            return Ok(x); // a bitcast: same bits
        }
        Ok(match (from, to) {
            (Uint | Sint, Uint | Sint) => x,
            (Bool, Uint | Sint) => {
                let one = self.asm.imm(1);
                self.asm.value("AND", &[x, one])
            }
            (Bool, Float) => {
                let one = self.asm.imm(1.0f32.to_bits());
                let zero = self.asm.imm(0);
                self.asm.value("UCMP", &[x, one, zero])
            }
            (Uint | Sint, Bool) => {
                let zero = self.asm.imm(0);
                self.asm.value("USNE", &[x, zero])
            }
            (Float, Bool) => {
                let zero = self.asm.imm(0);
                self.asm.value("FSNE", &[x, zero])
            }
            (Uint, Float) => self.asm.value("U2F", &[x]),
            (Sint, Float) => self.asm.value("I2F", &[x]),
            (Float, Uint) => self.asm.value("F2U", &[x]),
            (Float, Sint) => self.asm.value("F2I", &[x]),
            _ => return Err(self.unsupported(format!("a cast from {from:?} to {to:?}"), span)),
        })
    }

    fn math(
        &mut self,
        fun: MathFunction,
        arg: Handle<Expression>,
        arg1: Option<Handle<Expression>>,
        arg2: Option<Handle<Expression>>,
        span: naga::Span,
    ) -> Result<Value, Error> {
        use ScalarKind::{Float, Sint};
        let kind = self.kind(arg);
        let pick = |f: &'static str, s: &'static str, u: &'static str| match kind {
            Some(Float) => f,
            Some(Sint) => s,
            _ => u,
        };
        let x = self.expr(arg)?;
        let y = arg1.map(|a| self.expr(a)).transpose()?;
        let z = arg2.map(|a| self.expr(a)).transpose()?;
        let unary =
            |t: &mut Self, name: &'static str| t.map1(&x, &mut |t, v| Ok(t.asm.value(name, &[v])));
        match (fun, y, z) {
            (MathFunction::Min, Some(y), None) => {
                let name = pick("MIN", "IMIN", "UMIN");
                self.map2(&x, &y, &mut |t, a, b| Ok(t.asm.value(name, &[a, b])))
            }
            (MathFunction::Max, Some(y), None) => {
                let name = pick("MAX", "IMAX", "UMAX");
                self.map2(&x, &y, &mut |t, a, b| Ok(t.asm.value(name, &[a, b])))
            }
            (MathFunction::Clamp, Some(lo), Some(hi)) => {
                let (max, min) = (pick("MAX", "IMAX", "UMAX"), pick("MIN", "IMIN", "UMIN"));
                let low = self.map2(&x, &lo, &mut |t, a, b| Ok(t.asm.value(max, &[a, b])))?;
                self.map2(&low, &hi, &mut |t, a, b| Ok(t.asm.value(min, &[a, b])))
            }
            (MathFunction::Abs, None, None) if kind == Some(Sint) => unary(self, "IABS"),
            (MathFunction::Abs, None, None) if kind != Some(Float) => Ok(x.clone()),
            (MathFunction::CountOneBits, None, None) => unary(self, "POPC"),
            (MathFunction::ReverseBits, None, None) => unary(self, "BREV"),
            // clz(x) = 31 - findMSB(x); findMSB(0) = -1 gives 32, as WGSL says.
            (MathFunction::CountLeadingZeros, None, None) if kind != Some(Float) => {
                self.map1(&x, &mut |t, v| {
                    let msb = t.asm.value("UMSB", &[v]);
                    let neg = t.asm.value("INEG", &[msb]);
                    let thirty_one = t.asm.imm(31);
                    Ok(t.asm.value("UADD", &[thirty_one, neg]))
                })
            }
            (MathFunction::Sqrt, None, None) if kind == Some(Float) => unary(self, "SQRT"),
            (MathFunction::Floor, None, None) if kind == Some(Float) => unary(self, "FLR"),
            (MathFunction::Ceil, None, None) if kind == Some(Float) => unary(self, "CEIL"),
            (MathFunction::Trunc, None, None) if kind == Some(Float) => unary(self, "TRUNC"),
            (MathFunction::Fma, Some(y), Some(z)) if kind == Some(Float) => {
                let mut xs = Vec::new();
                let (mut ys, mut zs) = (Vec::new(), Vec::new());
                flatten(&x, &mut xs);
                flatten(&y, &mut ys);
                flatten(&z, &mut zs);
                let out: Vec<Src> = (0..xs.len())
                    .map(|i| self.asm.value("MAD", &[xs[i], ys[i], zs[i]]))
                    .collect();
                Ok(if out.len() == 1 {
                    Value::Scalar(out[0])
                } else {
                    composite(out)
                })
            }
            _ => Err(self.unsupported(format!("{fun:?} on {kind:?}"), span)),
        }
    }

    /// An atomic read-modify-write on a buffer or shared memory.
    pub fn atomic(
        &mut self,
        pointer: Handle<Expression>,
        fun: &AtomicFunction,
        value: Handle<Expression>,
        result: Option<Handle<Expression>>,
        span: naga::Span,
    ) -> Result<(), Error> {
        let ptr = self.pointer(pointer, span)?;
        let Base::Mem(memory) = ptr.base else {
            return Err(self.unsupported("an atomic on a private variable", span));
        };
        let signed = self.kind(value) == Some(ScalarKind::Sint);
        let mut v = self.scalar(value)?;
        let name = match fun {
            AtomicFunction::Add => "ATOMUADD",
            AtomicFunction::Subtract => {
                v = self.asm.value("INEG", &[v]);
                "ATOMUADD"
            }
            AtomicFunction::And => "ATOMAND",
            AtomicFunction::ExclusiveOr => "ATOMXOR",
            AtomicFunction::InclusiveOr => "ATOMOR",
            AtomicFunction::Min => {
                if signed {
                    "ATOMIMIN"
                } else {
                    "ATOMUMIN"
                }
            }
            AtomicFunction::Max => {
                if signed {
                    "ATOMIMAX"
                } else {
                    "ATOMUMAX"
                }
            }
            AtomicFunction::Exchange { compare: None } => "ATOMXCHG",
            AtomicFunction::Exchange { compare: Some(_) } => "ATOMCAS",
        };
        let compare = match fun {
            AtomicFunction::Exchange { compare: Some(c) } => Some(self.scalar(*c)?),
            _ => None,
        };
        let addr = self.byte_address(&ptr, 0);
        let old = self.asm.temp();
        let res = self.asm.memory(memory);
        let mut text = format!("{name} TEMP[{old}].x, {res}, {}", self.asm.src(addr));
        if let Some(c) = compare {
            text.push_str(&format!(", {}", self.asm.src(c)));
        }
        text.push_str(&format!(", {}", self.asm.src(v)));
        self.asm.line(&text);
        if let Some(result) = result {
            let old = Src::Temp(old);
            let value = match compare {
                Some(c) => {
                    let exchanged = self.asm.value("USEQ", &[old, c]);
                    composite([old, exchanged])
                }
                None => Value::Scalar(old),
            };
            self.set(result, value);
        }
        Ok(())
    }
}
