//! Writing a component value type in WIT syntax, for signatures in messages and listings.
//!
//! wasmtime's types are structural (a record has fields but no name), so records, variants, enums
//! and flags are written out in full: `record { x: u32 }`.

use wasmtime::component::{Type, Val};

/// The WIT spelling of `ty`.
pub(crate) fn describe(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", describe(&list.ty())),
        Type::FixedLengthList(list) => format!("list<{}, {}>", describe(&list.ty()), list.len()),
        Type::Map(map) => format!("map<{}, {}>", describe(&map.key()), describe(&map.value())),
        Type::Record(record) => {
            let fields: Vec<String> = record
                .fields()
                .map(|f| format!("{}: {}", f.name, describe(&f.ty)))
                .collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Tuple(tuple) => {
            let types: Vec<String> = tuple.types().map(|t| describe(&t)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        Type::Variant(variant) => {
            let cases: Vec<String> = variant
                .cases()
                .map(|c| match c.ty {
                    Some(ty) => format!("{}({})", c.name, describe(&ty)),
                    None => c.name.to_owned(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        Type::Option(option) => format!("option<{}>", describe(&option.ty())),
        Type::Result(result) => match (result.ok(), result.err()) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{}>", describe(&ok)),
            (None, Some(err)) => format!("result<_, {}>", describe(&err)),
            (Some(ok), Some(err)) => format!("result<{}, {}>", describe(&ok), describe(&err)),
        },
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Future(future) => match future.ty() {
            Some(payload) => format!("future<{}>", describe(&payload)),
            None => "future".into(),
        },
        Type::Stream(stream) => match stream.ty() {
            Some(payload) => format!("stream<{}>", describe(&payload)),
            None => "stream".into(),
        },
        Type::ErrorContext => "error-context".into(),
    }
}

/// Checks that `val` is a value of type `ty`, saying where it is not: an argument of the wrong
/// type is refused with a clear reason before any guest code runs.
pub(crate) fn check(val: &Val, ty: &Type) -> Result<(), String> {
    let mismatch = || Err(format!("expected {}, found {}", describe(ty), kind(val)));
    match (val, ty) {
        (Val::Bool(_), Type::Bool)
        | (Val::S8(_), Type::S8)
        | (Val::U8(_), Type::U8)
        | (Val::S16(_), Type::S16)
        | (Val::U16(_), Type::U16)
        | (Val::S32(_), Type::S32)
        | (Val::U32(_), Type::U32)
        | (Val::S64(_), Type::S64)
        | (Val::U64(_), Type::U64)
        | (Val::Float32(_), Type::Float32)
        | (Val::Float64(_), Type::Float64)
        | (Val::Char(_), Type::Char)
        | (Val::String(_), Type::String)
        | (Val::Future(_), Type::Future(_))
        | (Val::Stream(_), Type::Stream(_))
        | (Val::ErrorContext(_), Type::ErrorContext) => Ok(()),
        (Val::List(items), Type::List(list)) => check_all(items, |_| Some(list.ty())),
        (Val::FixedLengthList(items), Type::FixedLengthList(list)) => {
            if items.len() != list.len() as usize {
                return Err(format!(
                    "expected {} item(s) in {}, found {}",
                    list.len(),
                    describe(ty),
                    items.len()
                ));
            }
            check_all(items, |_| Some(list.ty()))
        }
        (Val::Map(entries), Type::Map(map)) => entries.iter().try_for_each(|(key, value)| {
            check(key, &map.key())?;
            check(value, &map.value())
        }),
        (Val::Record(fields), Type::Record(record)) => {
            let expected: Vec<_> = record.fields().collect();
            let names_agree = fields.len() == expected.len()
                && fields
                    .iter()
                    .zip(&expected)
                    .all(|((name, _), f)| name == f.name);
            if !names_agree {
                return mismatch();
            }
            fields
                .iter()
                .zip(&expected)
                .try_for_each(|((name, value), field)| {
                    check(value, &field.ty).map_err(|e| format!("in field `{name}`: {e}"))
                })
        }
        (Val::Tuple(items), Type::Tuple(tuple)) => {
            let types: Vec<_> = tuple.types().collect();
            if items.len() != types.len() {
                return mismatch();
            }
            check_all(items, |i| types.get(i).cloned())
        }
        (Val::Variant(name, payload), Type::Variant(variant)) => {
            match variant.cases().find(|case| case.name == name) {
                Some(case) => check_payload(payload.as_deref(), case.ty.as_ref(), name),
                None => Err(format!("{} has no case `{name}`", describe(ty))),
            }
        }
        (Val::Enum(name), Type::Enum(e)) => match e.names().any(|case| case == name) {
            true => Ok(()),
            false => Err(format!("{} has no case `{name}`", describe(ty))),
        },
        (Val::Flags(set), Type::Flags(flags)) => {
            match set
                .iter()
                .find(|flag| !flags.names().any(|name| name == *flag))
            {
                Some(unknown) => Err(format!("{} has no flag `{unknown}`", describe(ty))),
                None => Ok(()),
            }
        }
        (Val::Option(inner), Type::Option(option)) => match inner {
            Some(inner) => check(inner, &option.ty()),
            None => Ok(()),
        },
        (Val::Result(outcome), Type::Result(result)) => match outcome {
            Ok(payload) => check_payload(payload.as_deref(), result.ok().as_ref(), "ok"),
            Err(payload) => check_payload(payload.as_deref(), result.err().as_ref(), "err"),
        },
        (Val::Resource(resource), Type::Own(expected)) if resource.ty() == *expected => {
            match resource.owned() {
                true => Ok(()),
                false => Err("expected an owned resource, found a borrowed one".to_owned()),
            }
        }
        (Val::Resource(resource), Type::Borrow(expected)) if resource.ty() == *expected => Ok(()),
        _ => mismatch(),
    }
}

fn check_all(items: &[Val], ty_of: impl Fn(usize) -> Option<Type>) -> Result<(), String> {
    items
        .iter()
        .enumerate()
        .try_for_each(|(i, item)| match ty_of(i) {
            Some(ty) => check(item, &ty).map_err(|e| format!("at index {i}: {e}")),
            None => Err(format!("unexpected item at index {i}")),
        })
}

fn check_payload(payload: Option<&Val>, ty: Option<&Type>, case: &str) -> Result<(), String> {
    match (payload, ty) {
        (None, None) => Ok(()),
        (Some(value), Some(ty)) => check(value, ty).map_err(|e| format!("in `{case}`: {e}")),
        (None, Some(ty)) => Err(format!("`{case}` needs a payload of type {}", describe(ty))),
        (Some(_), None) => Err(format!("`{case}` takes no payload")),
    }
}

/// What kind of value `val` is, for messages.
fn kind(val: &Val) -> &'static str {
    match val {
        Val::Bool(_) => "bool",
        Val::S8(_) => "s8",
        Val::U8(_) => "u8",
        Val::S16(_) => "s16",
        Val::U16(_) => "u16",
        Val::S32(_) => "s32",
        Val::U32(_) => "u32",
        Val::S64(_) => "s64",
        Val::U64(_) => "u64",
        Val::Float32(_) => "f32",
        Val::Float64(_) => "f64",
        Val::Char(_) => "char",
        Val::String(_) => "a string",
        Val::List(_) => "a list",
        Val::FixedLengthList(_) => "a fixed-length list",
        Val::Map(_) => "a map",
        Val::Record(_) => "a record",
        Val::Tuple(_) => "a tuple",
        Val::Variant(..) => "a variant",
        Val::Enum(_) => "an enum",
        Val::Option(_) => "an option",
        Val::Result(_) => "a result",
        Val::Flags(_) => "flags",
        Val::Resource(_) => "a resource",
        Val::Future(_) => "a future",
        Val::Stream(_) => "a stream",
        Val::ErrorContext(_) => "an error-context",
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::component::{Component, Val};
    use wasmtime::{Config, Engine};

    use super::check;

    /// The parameter types of `f` in a component declaring it with `params`.
    fn params(params: &str) -> Vec<wasmtime::component::Type> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        // Named types (records, variants, enums, flags) must be imported to be used.
        let wat = format!(
            r#"(component
                (type $defined {params})
                (import "t" (type $t (eq $defined)))
                (import "f" (func (param "a" $t)))
            )"#
        );
        let component = Component::new(&engine, wat::parse_str(&wat).unwrap()).unwrap();
        let ty = component.component_type();
        let (_, item) = ty.imports(&engine).find(|(name, _)| *name == "f").unwrap();
        match item.ty {
            wasmtime::component::types::ComponentItem::ComponentFunc(f) => {
                f.params().map(|(_, ty)| ty).collect()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn values_of_the_declared_type_pass() {
        let ty = &params("(list (tuple string u32))")[0];
        let val = Val::List(vec![Val::Tuple(vec![Val::String("a".into()), Val::U32(1)])]);
        assert_eq!(check(&val, ty), Ok(()));
    }

    #[test]
    fn a_wrong_scalar_is_named() {
        let ty = &params("u32")[0];
        assert_eq!(
            check(&Val::String("x".into()), ty),
            Err("expected u32, found a string".into())
        );
        assert!(check(&Val::S32(1), ty).is_err());
    }

    #[test]
    fn nested_mismatches_say_where() {
        let ty = &params("(list (tuple string u32))")[0];
        let val = Val::List(vec![Val::Tuple(vec![Val::String("a".into()), Val::U8(1)])]);
        let error = check(&val, ty).unwrap_err();
        assert!(
            error.contains("at index 0") && error.contains("expected u32"),
            "{error}"
        );
    }

    #[test]
    fn unknown_cases_and_flags_are_refused() {
        let e = &params(r#"(enum "a" "b")"#)[0];
        assert_eq!(check(&Val::Enum("a".into()), e), Ok(()));
        assert!(
            check(&Val::Enum("c".into()), e)
                .unwrap_err()
                .contains("no case `c`")
        );
        let f = &params(r#"(flags "r" "w")"#)[0];
        assert_eq!(check(&Val::Flags(vec!["w".into()]), f), Ok(()));
        assert!(check(&Val::Flags(vec!["x".into()]), f).is_err());
    }

    #[test]
    fn results_and_options_check_their_payloads() {
        let r = &params("(result u8 (error string))")[0];
        assert_eq!(
            check(&Val::Result(Ok(Some(Box::new(Val::U8(1))))), r),
            Ok(())
        );
        assert!(check(&Val::Result(Err(None)), r).is_err());
        assert!(check(&Val::Result(Err(Some(Box::new(Val::U8(1))))), r).is_err());
        let o = &params("(option string)")[0];
        assert_eq!(check(&Val::Option(None), o), Ok(()));
        assert!(check(&Val::Option(Some(Box::new(Val::Bool(true)))), o).is_err());
    }

    #[test]
    fn records_need_their_fields_in_order() {
        let ty = &params(r#"(record (field "x" u32) (field "y" u32))"#)[0];
        let good = Val::Record(vec![("x".into(), Val::U32(1)), ("y".into(), Val::U32(2))]);
        assert_eq!(check(&good, ty), Ok(()));
        let missing = Val::Record(vec![("x".into(), Val::U32(1))]);
        assert!(check(&missing, ty).is_err());
        let wrong = Val::Record(vec![("x".into(), Val::U32(1)), ("y".into(), Val::S8(2))]);
        assert!(check(&wrong, ty).unwrap_err().contains("field `y`"));
    }
}
