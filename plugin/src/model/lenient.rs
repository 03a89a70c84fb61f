//! Typed, borrowing views of Trakt rows: what `rows::row_to_item` reads from a `Value`, read
//! straight from the page text (no JSON tree, strings borrowed from the page where they have
//! no escapes). Every field is lenient the way `Value` accessors are: a field of another JSON
//! type reads as absent, never as an error, so the view says what the `Value` path says.
//! Anything the view cannot say the same way (a repeated field, which a `Value` resolves by
//! keeping the last) fails the parse, and callers then take the `Value` path.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::item::{namespace_place, Ids, IdsBuilder};

/// Skip the rest of a compound value a visitor does not want.
fn skip_map<'de, A: MapAccess<'de>>(mut a: A) -> Result<(), A::Error> {
    while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut a: A) -> Result<(), A::Error> {
    while a.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visitor methods that make every JSON type but the wanted ones "absent".
macro_rules! absent_otherwise {
    ($($skip:ident)*) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> { Ok(Default::default()) }
        fn visit_unit<E>(self) -> Result<Self::Value, E> { Ok(Default::default()) }
        absent_otherwise!(@ $($skip)*);
    };
    (@ num $($rest:ident)*) => {
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> { Ok(Default::default()) }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> { Ok(Default::default()) }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> { Ok(Default::default()) }
        absent_otherwise!(@ $($rest)*);
    };
    (@ str $($rest:ident)*) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> { Ok(Default::default()) }
        absent_otherwise!(@ $($rest)*);
    };
    (@ map $($rest:ident)*) => {
        fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
            skip_map(a)?;
            Ok(Default::default())
        }
        absent_otherwise!(@ $($rest)*);
    };
    (@ seq $($rest:ident)*) => {
        fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
            skip_seq(a)?;
            Ok(Default::default())
        }
        absent_otherwise!(@ $($rest)*);
    };
    (@) => {};
}

/// A JSON string (borrowed when it has no escapes); any other JSON type is `None`
/// (`Value::as_str`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
    pub fn owned(&self) -> Option<String> {
        self.0.as_ref().map(|c| c.to_string())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            absent_otherwise!(num map seq);
        }
        d.deserialize_any(V)
    }
}

/// A JSON integer that fits an `i32`; anything else is `None` (`Value::as_i64` then
/// `i32::try_from`: floats, even integral ones, are not integers).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Int(pub Option<i32>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Int, E> {
                Ok(Int(i32::try_from(v).ok()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Int, E> {
                Ok(Int(i32::try_from(v).ok()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Int, E> {
                Ok(Int(None))
            }
            absent_otherwise!(str map seq);
        }
        d.deserialize_any(V)
    }
}

/// A JSON object read as `T`; any other JSON type is `None` (`Value::is_object`).
#[derive(Debug, Clone, PartialEq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(a)).map(|t| Obj(Some(t)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E>(self) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<Obj<T>, A::Error> {
                skip_seq(a)?;
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Whether a `serde_json::Map` iterates by key (a `BTreeMap`: the component's own build) or
/// in insertion order (`preserve_order`, which another crate of a native workspace build
/// turns on for every crate).
fn value_maps_sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut m = serde_json::Map::new();
        m.insert("b".into(), serde_json::Value::Null);
        m.insert("a".into(), serde_json::Value::Null);
        m.keys().next().map(String::as_str) == Some("a")
    })
}

/// An `ids` object as `ids_from_map` reads it from a `Value`: scalar values as text (strings
/// as they are, numbers in `serde_json`'s decimal form), other values dropped, in the order
/// of a `Value` object (by name, or as written when maps keep that order; a repeated name
/// keeps its first place and its last value).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawIds(pub Vec<(String, String)>);

/// One id value as `ids_from_map` keeps it: strings as they are, numbers in `serde_json`'s
/// decimal form; `None` for the kinds it drops (objects, arrays, booleans, null).
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            // Most ids are numbers: itoa, as serde_json writes them (the `Display`
            // machinery costs several times more in wasm).
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(itoa::Buffer::new().format(v).to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(itoa::Buffer::new().format(v).to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(serde_json::Number::from_f64(v).map(|n| n.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Scalar, A::Error> {
                skip_map(a)?;
                Ok(Scalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<Scalar, A::Error> {
                skip_seq(a)?;
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawIds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawIds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ids object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<RawIds, A::Error> {
                let mut all: Vec<(String, Option<String>)> = Vec::with_capacity(a.size_hint().unwrap_or(8));
                while let Some(k) = a.next_key::<Cow<'de, str>>()? {
                    let Scalar(v) = a.next_value()?;
                    match all.iter_mut().find(|(n, _)| *n == k) {
                        Some(slot) => slot.1 = v,
                        None => all.push((k.into_owned(), v)),
                    }
                }
                if value_maps_sorted() {
                    crate::sort::sort_by(&mut all, |x, y| x.0.cmp(&y.0));
                }
                Ok(RawIds(all.into_iter().filter_map(|(k, v)| Some((k, v?))).collect()))
            }
        }
        d.deserialize_map(V)
    }
}

/// An `ids` field kept as its JSON text, borrowed from the page, until it is needed: a
/// history row's title is nearly always known by its trakt id (`trakt`), and only a new
/// title's ids are read whole (`read`, which says what `Obj<RawIds>` says).
#[derive(Debug, Default, Clone, Copy)]
pub struct LazyIds<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for LazyIds<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(|raw| LazyIds(Some(raw)))
    }
}

impl LazyIds<'_> {
    /// The field's JSON text, when there is one.
    pub fn text(&self) -> Option<&str> {
        self.0.map(RawValue::get)
    }

    /// The ids as `Obj<RawIds>` reads them: `None` unless the field is an object.
    pub fn read(&self) -> Option<RawIds> {
        let raw = self.0?.get();
        // The text was checked when the row was read: only an object reads as ids.
        serde_json::from_str::<Obj<RawIds>>(raw).ok().and_then(|o| o.0)
    }

    /// The normalised ids, as `Ids::from_raw` of `read` gives them, read from the text in
    /// one pass (no raw list in between) unless a namespace is named twice, where the order
    /// of the names decides and `read` is taken.
    pub fn normalised(&self) -> Ids {
        /// Adds one id value to the builder, in `Scalar`'s text form.
        struct AddTo<'b> {
            ids: &'b mut IdsBuilder,
            place: usize,
        }
        impl<'de> de::DeserializeSeed<'de> for AddTo<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> Visitor<'de> for AddTo<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<(), E> {
                self.ids.add(self.place, v);
                Ok(())
            }
            fn visit_i64<E>(self, v: i64) -> Result<(), E> {
                self.ids.add(self.place, itoa::Buffer::new().format(v));
                Ok(())
            }
            fn visit_u64<E>(self, v: u64) -> Result<(), E> {
                self.ids.add(self.place, itoa::Buffer::new().format(v));
                Ok(())
            }
            fn visit_f64<E>(self, v: f64) -> Result<(), E> {
                if let Some(n) = serde_json::Number::from_f64(v) {
                    self.ids.add(self.place, &n.to_string());
                }
                Ok(())
            }
            fn visit_bool<E>(self, _: bool) -> Result<(), E> {
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<(), A::Error> {
                skip_map(a)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<(), A::Error> {
                skip_seq(a)
            }
        }
        /// The ids, or `None` when a namespace is named twice (or the field is no object).
        #[derive(Default)]
        struct Direct(Option<Ids>);
        impl<'de> Deserialize<'de> for Direct {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Direct;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("any JSON value")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Direct, A::Error> {
                        let mut ids = IdsBuilder::with_capacity(a.size_hint().unwrap_or(6));
                        let (mut seen, mut twice) = (0u32, false);
                        while let Some(k) = a.next_key::<Cow<'de, str>>()? {
                            match namespace_place(&k) {
                                Some(place) if seen & (1 << place) == 0 && !twice => {
                                    seen |= 1 << place;
                                    a.next_value_seed(AddTo { ids: &mut ids, place })?;
                                }
                                Some(_) => {
                                    twice = true;
                                    a.next_value::<IgnoredAny>()?;
                                }
                                None => {
                                    a.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(Direct((!twice).then(|| ids.finish())))
                    }
                    absent_otherwise!(num str seq);
                }
                d.deserialize_any(V)
            }
        }
        let Some(raw) = self.0 else { return Ids::default() };
        match serde_json::from_str::<Direct>(raw.get()) {
            Ok(Direct(Some(ids))) => ids,
            _ => self.read().map(|r| Ids::from_raw(&r.0)).unwrap_or_default(),
        }
    }

    /// The `trakt` id as `read` would give it (the last value of that name, a scalar in its
    /// text form) parsed as a number; `None` when there is none or it is not one.
    pub fn trakt(&self) -> Option<u64> {
        #[derive(Default)]
        struct Trakt(Option<String>);
        impl<'de> Deserialize<'de> for Trakt {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Trakt;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("any JSON value")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Trakt, A::Error> {
                        let mut trakt = None;
                        while let Some(k) = a.next_key::<Cow<'de, str>>()? {
                            if k == "trakt" {
                                trakt = a.next_value::<Scalar>()?.0;
                            } else {
                                a.next_value::<IgnoredAny>()?;
                            }
                        }
                        Ok(Trakt(trakt))
                    }
                    absent_otherwise!(num str seq);
                }
                d.deserialize_any(V)
            }
        }
        let raw = self.0?.get();
        if let Some(found) = trakt_of_flat(raw) {
            return found;
        }
        serde_json::from_str::<Trakt>(raw).ok()?.0?.parse().ok()
    }
}

/// `LazyIds::trakt` of an ids object with no nested value and no escape (what Trakt sends),
/// found without parsing it: there every `"trakt"` followed by `:` is that key, the last one
/// counts, and its value is digits, a string or a literal. `None` (undecided) for any other
/// text and for values whose text form takes parsing (negative numbers, fractions).
fn trakt_of_flat(raw: &str) -> Option<Option<u64>> {
    let b = raw.as_bytes();
    if b.first() != Some(&b'{') || b[1..].iter().any(|c| matches!(c, b'{' | b'[' | b'\\')) {
        return None;
    }
    // The last `"trakt"`, found among the quotes (a handful): `rfind` set up a string
    // searcher per call, most of this function's cost.
    let mut last = None;
    let mut from = 0;
    while let Some(q) = b[from..].iter().position(|&c| c == b'"') {
        let at = from + q;
        if b[at..].starts_with(b"\"trakt\"") {
            last = Some(at);
        }
        from = at + 1;
    }
    let Some(at) = last else { return Some(None) };
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = at + 7;
    while b.get(i).is_some_and(ws) {
        i += 1;
    }
    if b.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while b.get(i).is_some_and(ws) {
        i += 1;
    }
    match b.get(i)? {
        b'0'..=b'9' => {
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            match b.get(i + digits)? {
                c if ws(c) || matches!(c, b',' | b'}') => Some(raw[i..i + digits].parse().ok()),
                _ => None,
            }
        }
        b'"' => {
            let len = raw[i + 1..].find('"')?;
            Some(raw[i + 1..i + 1 + len].parse().ok())
        }
        b'n' | b't' | b'f' => Some(None),
        _ => None,
    }
}

/// A number Trakt (or a cache) may write as a JSON number or a digit string; anything else
/// is no number.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Num(pub Option<u64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(Some(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(u64::try_from(v).ok()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Num, E> {
                Ok(Num(None))
            }
            fn visit_str<E>(self, v: &str) -> Result<Num, E> {
                Ok(Num(v.trim().parse().ok()))
            }
            absent_otherwise!(map seq);
        }
        d.deserialize_any(V)
    }
}

/// A row's `rating` as `ratings::index::row_rating` reads a `Value`: an integer, an integral
/// float or a digit string; anything else is `None`. The range is the caller's to check.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RatingValue(pub Option<i64>);

impl<'de> Deserialize<'de> for RatingValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RatingValue, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RatingValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rating")
            }
            fn visit_i64<E>(self, v: i64) -> Result<RatingValue, E> {
                Ok(RatingValue(Some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RatingValue, E> {
                // Above i64: `Value::as_f64` then `as i64` saturates; out of range either way.
                Ok(RatingValue(Some(i64::try_from(v).unwrap_or(i64::MAX))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RatingValue, E> {
                Ok(RatingValue((v.fract() == 0.0).then_some(v as i64)))
            }
            fn visit_str<E>(self, v: &str) -> Result<RatingValue, E> {
                Ok(RatingValue(v.trim().parse().ok()))
            }
            absent_otherwise!(map seq);
        }
        d.deserialize_any(V)
    }
}

/// Any JSON number as an `f64` (`Value::as_f64`: integers converted); anything else is
/// `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Float(pub Option<f64>);

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Float, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Float;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Float, E> {
                Ok(Float(Some(v as f64)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Float, E> {
                Ok(Float(Some(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Float, E> {
                Ok(Float(Some(v)))
            }
            absent_otherwise!(str map seq);
        }
        d.deserialize_any(V)
    }
}

/// A JSON integer that fits a `u64` (`Value::as_u64`); anything else is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Uint(pub Option<u64>);

impl<'de> Deserialize<'de> for Uint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Uint, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Uint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Uint, E> {
                Ok(Uint(u64::try_from(v).ok()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Uint, E> {
                Ok(Uint(Some(v)))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Uint, E> {
                Ok(Uint(None))
            }
            absent_otherwise!(str map seq);
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::trakt_of_flat;

    #[test]
    fn trakt_sends_ids_the_flat_reading_decides() {
        let trakt = r#"{"trakt":100101,"slug":"sample-show-1","tvdb":300001,"imdb":"tt2000001","tmdb":200001}"#;
        assert_eq!(trakt_of_flat(trakt), Some(Some(100101)));
        assert_eq!(trakt_of_flat(r#"{"tmdb": 5}"#), Some(None));
        assert_eq!(trakt_of_flat(r#"{"trakt": "12"}"#), Some(Some(12)));
        // Left to the parser: nesting, escapes, fractions, negative numbers, not an object.
        for undecided in [r#"{"trakt": 1, "x": {}}"#, r#"{"trakt": 1, "s": "\u0041"}"#, r#"{"trakt": 1.0}"#] {
            assert_eq!(trakt_of_flat(undecided), None, "{undecided}");
        }
        assert_eq!(trakt_of_flat(r#"{"trakt": -1}"#), None);
        assert_eq!(trakt_of_flat("[1]"), None);
    }
}
