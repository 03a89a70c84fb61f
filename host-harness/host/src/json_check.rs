//! A check that text handed over in parts is one JSON object (RFC 8259 syntax), fed part by
//! part, so an index text never has to be whole in memory to be checked (`index_text`).
//! `serde_json` checks only text it holds whole, or reads through `io::Read` a byte at a
//! time (several times slower: it was most of a cached index's cost); this is its syntax,
//! a byte-class state machine that scans strings and whitespace in runs. Tested against
//! `serde_json` on valid and broken texts cut at every place.

/// Nesting deeper than this is refused (serde_json's recursion limit when it parses a value),
/// so a component cannot make the host keep a stack of its choosing.
const MAX_DEPTH: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// The first value: must be an object.
    Start,
    Value,
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object.
    Key,
    Colon,
    /// After `[`: a value or `]`.
    ValueOrEnd,
    /// After a value in a container.
    CommaOrEnd,
    /// The object is complete: only whitespace may follow.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    None,
    /// In a string (`key`: an object key); `escape`: after `\`; `hex`: `\u` digits left.
    Str {
        key: bool,
        escape: bool,
        hex: u8,
    },
    Num(Num),
    /// In `true`, `false` or `null`: the bytes still expected.
    Lit(&'static [u8]),
}

/// Where a number is in `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

impl Num {
    fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::Exp)
    }
}

/// The checker: `feed` every part, then `finish`.
pub struct JsonObjectCheck {
    expect: Expect,
    token: Token,
    /// Open containers: `true` for an object.
    stack: Vec<bool>,
    /// Bytes fed so far (for messages).
    offset: u64,
}

impl Default for JsonObjectCheck {
    fn default() -> Self {
        JsonObjectCheck { expect: Expect::Start, token: Token::None, stack: Vec::new(), offset: 0 }
    }
}

/// The place of the first `"`, `\\` or control byte of `s`: sixteen bytes at a time with
/// SSE2 (part of every x86-64), else eight (`string_stop_swar`).
fn string_stop(s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mut i = 0;
        while i + 16 <= s.len() {
            // SAFETY: SSE2 is part of the x86-64 baseline, and the load reads s[i..i + 16],
            // which is in bounds.
            let stops = unsafe {
                let x = _mm_loadu_si128(s.as_ptr().add(i).cast());
                // Bytes up to 0x1f: the unsigned maximum with 0x1f is 0x1f itself.
                let control = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
                let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
            };
            if stops != 0 {
                return Some(i + stops.trailing_zeros() as usize);
            }
            i += 16;
        }
        s[i..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| i + p)
    }
    #[cfg(not(target_arch = "x86_64"))]
    string_stop_swar(s)
}

/// `string_stop` eight bytes at a time (the zero-byte test of
/// https://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn string_stop_swar(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = w ^ (LO * u64::from(b'"'));
        let slash = w ^ (LO * u64::from(b'\\'));
        let found =
            (quote.wrapping_sub(LO) & !quote) | (slash.wrapping_sub(LO) & !slash) | (w.wrapping_sub(LO * 0x20) & !w);
        if found & HI != 0 {
            break;
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| i + p)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl JsonObjectCheck {
    /// Check the next part; `Err` names what is wrong and where.
    pub fn feed(&mut self, part: &[u8]) -> Result<(), String> {
        let mut i = 0;
        while i < part.len() {
            let b = part[i];
            match self.token {
                Token::Str { key, escape: false, hex: 0 } => {
                    // The run up to the next quote, backslash or control byte.
                    let Some(n) = string_stop(&part[i..]) else {
                        i = part.len();
                        continue;
                    };
                    i += n;
                    match part[i] {
                        b'"' => {
                            self.token = Token::None;
                            self.expect = if key { Expect::Colon } else { self.after_value() };
                        }
                        b'\\' => self.token = Token::Str { key, escape: true, hex: 0 },
                        _ => return Err(self.at(i, "a control character in a string")),
                    }
                    i += 1;
                    continue;
                }
                Token::Str { key, escape: true, .. } => {
                    self.token = match b {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            Token::Str { key, escape: false, hex: 0 }
                        }
                        b'u' => Token::Str { key, escape: false, hex: 4 },
                        _ => return Err(self.at(i, "an invalid escape in a string")),
                    };
                    i += 1;
                    continue;
                }
                Token::Str { key, hex, .. } => {
                    if !b.is_ascii_hexdigit() {
                        return Err(self.at(i, "an invalid \\u escape"));
                    }
                    self.token = Token::Str { key, escape: false, hex: hex - 1 };
                    i += 1;
                    continue;
                }
                Token::Lit(rest) => {
                    if b != rest[0] {
                        return Err(self.at(i, "an invalid literal"));
                    }
                    self.token = if rest.len() == 1 {
                        self.expect = self.after_value();
                        Token::None
                    } else {
                        Token::Lit(&rest[1..])
                    };
                    i += 1;
                    continue;
                }
                Token::Num(n) => {
                    let next = match (n, b) {
                        (Num::Minus, b'0') => Some(Num::Zero),
                        (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                        (Num::Int, b'0'..=b'9') => Some(Num::Int),
                        (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                        (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                        (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
                        (Num::E, b'+' | b'-') => Some(Num::ESign),
                        (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                        _ => None,
                    };
                    match next {
                        Some(n) => {
                            self.token = Token::Num(n);
                            i += 1;
                            continue;
                        }
                        None if n.complete() => {
                            // The number ended: this byte is read as structure below.
                            self.token = Token::None;
                            self.expect = self.after_value();
                        }
                        None => return Err(self.at(i, "an invalid number")),
                    }
                }
                Token::None => {}
            }
            // Outside a token: whole tokens in a run, then the byte they stopped at.
            i = self.tokens(part, i);
            if i == part.len() {
                break;
            }
            // `tokens` took every string without escapes that is whole in this part; what it
            // left here goes through the byte machine.
            let b = part[i];
            self.structure(b).map_err(|what| self.at(i, what))?;
            i += 1;
            // The digits of a number in a run (the number machine above takes the rest).
            if let Token::Num(Num::Int) = self.token {
                while i < part.len() && part[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
        self.offset += part.len() as u64;
        Ok(())
    }

    /// Whole tokens from `i` on, outside any token, while each is one of the common ones
    /// and complete in `s` (strings without escapes, structure, numbers that end before the
    /// part does): the place of the first byte left to the byte machine (or `s.len()`).
    #[inline(always)]
    fn tokens(&mut self, s: &[u8], mut i: usize) -> usize {
        loop {
            while i < s.len() && is_ws(s[i]) {
                i += 1;
            }
            let Some(&b) = s.get(i) else { return i };
            match (self.expect, b) {
                (Expect::Key | Expect::KeyOrEnd | Expect::Value | Expect::ValueOrEnd, b'"') => {
                    let key = matches!(self.expect, Expect::Key | Expect::KeyOrEnd);
                    match string_stop(&s[i + 1..]) {
                        Some(n) if s[i + 1 + n] == b'"' => {
                            self.expect = if key { Expect::Colon } else { self.after_value() };
                            i += n + 2;
                        }
                        _ => return i,
                    }
                }
                (Expect::Colon, b':') => {
                    self.expect = Expect::Value;
                    i += 1;
                }
                (Expect::CommaOrEnd, b',') => {
                    self.expect = if self.stack.last() == Some(&true) { Expect::Key } else { Expect::Value };
                    i += 1;
                }
                (Expect::CommaOrEnd | Expect::KeyOrEnd, b'}') if self.stack.last() == Some(&true) => {
                    self.stack.pop();
                    self.expect = self.after_value();
                    i += 1;
                }
                (Expect::Value | Expect::ValueOrEnd, b'{') if self.stack.len() < MAX_DEPTH => {
                    self.stack.push(true);
                    self.expect = Expect::KeyOrEnd;
                    i += 1;
                }
                (Expect::Value | Expect::ValueOrEnd, b'1'..=b'9') => {
                    // An integer: its digits, then a byte that ends it (not `.`, `e` or `E`).
                    let digits = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                    match s.get(i + digits) {
                        Some(c) if !matches!(c, b'.' | b'e' | b'E') => {
                            self.expect = self.after_value();
                            i += digits;
                        }
                        _ => return i,
                    }
                }
                _ => return i,
            }
        }
    }

    /// The text ended: `Err` unless it was one complete object.
    pub fn finish(mut self) -> Result<(), String> {
        if let Token::Num(n) = self.token {
            if n.complete() && self.stack.is_empty() {
                self.expect = Expect::Done;
                self.token = Token::None;
            }
        }
        match (self.expect, self.token) {
            (Expect::Done, Token::None) => Ok(()),
            (Expect::Start, _) => Err("the text is empty".into()),
            _ => Err(format!("the text ends inside a value, at byte {}", self.offset)),
        }
    }

    fn at(&self, i: usize, what: &str) -> String {
        format!("{what} at byte {}", self.offset + i as u64)
    }

    /// What follows a complete value.
    #[inline]
    fn after_value(&self) -> Expect {
        if self.stack.is_empty() {
            Expect::Done
        } else {
            Expect::CommaOrEnd
        }
    }

    /// A byte outside any token.
    fn structure(&mut self, b: u8) -> Result<(), &'static str> {
        match self.expect {
            Expect::Start if b != b'{' => Err("not a JSON object"),
            Expect::Start | Expect::Value | Expect::ValueOrEnd => {
                if b == b']' && self.expect == Expect::ValueOrEnd {
                    return self.close(false);
                }
                self.value(b)
            }
            Expect::KeyOrEnd if b == b'}' => self.close(true),
            Expect::KeyOrEnd | Expect::Key if b == b'"' => {
                self.token = Token::Str { key: true, escape: false, hex: 0 };
                Ok(())
            }
            Expect::KeyOrEnd | Expect::Key => Err("an object key expected"),
            Expect::Colon if b == b':' => {
                self.expect = Expect::Value;
                Ok(())
            }
            Expect::Colon => Err("':' expected"),
            Expect::CommaOrEnd => match (b, self.stack.last()) {
                (b',', Some(true)) => {
                    self.expect = Expect::Key;
                    Ok(())
                }
                (b',', Some(false)) => {
                    self.expect = Expect::Value;
                    Ok(())
                }
                (b'}', Some(true)) => self.close(true),
                (b']', Some(false)) => self.close(false),
                _ => Err("',' or the end of the container expected"),
            },
            Expect::Done => Err("text after the object"),
        }
    }

    /// The first byte of a value.
    fn value(&mut self, b: u8) -> Result<(), &'static str> {
        match b {
            b'{' | b'[' => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err("nesting deeper than 128 levels");
                }
                self.stack.push(b == b'{');
                self.expect = if b == b'{' { Expect::KeyOrEnd } else { Expect::ValueOrEnd };
            }
            b'"' => self.token = Token::Str { key: false, escape: false, hex: 0 },
            b'-' => self.token = Token::Num(Num::Minus),
            b'0' => self.token = Token::Num(Num::Zero),
            b'1'..=b'9' => self.token = Token::Num(Num::Int),
            b't' => self.token = Token::Lit(b"rue"),
            b'f' => self.token = Token::Lit(b"alse"),
            b'n' => self.token = Token::Lit(b"ull"),
            _ => return Err("a value expected"),
        }
        Ok(())
    }

    fn close(&mut self, object: bool) -> Result<(), &'static str> {
        if self.stack.pop() != Some(object) {
            return Err("a container closed that is not open");
        }
        self.expect = self.after_value();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(parts: &[&[u8]]) -> bool {
        let mut c = JsonObjectCheck::default();
        parts.iter().all(|p| c.feed(p).is_ok()) && c.finish().is_ok()
    }

    fn serde_says(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() && text.trim_start().starts_with('{')
    }

    #[test]
    fn agrees_with_serde_json_wherever_the_text_is_cut() {
        let mut texts: Vec<String> = [
            "{}",
            " {\n  \"a\": {\n    \"x\": 1\n  },\n  \"b\": []\n} \n",
            r#"{"a":[1,-2,3.5,-0.0e+12,4E-3,0,true,false,null,"s\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00",{},[[]]]}"#,
            r#"{"k":{"t":"movie","ids":{"tmdb":"603"},"y":1999,"r":8.5}}"#,
            "{\"é\": \"ünïcode ☃\"}",
            // Broken:
            "",
            " ",
            "[]",
            "\"s\"",
            "1",
            "null",
            "{",
            "}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\" 1}",
            "{\"a\":1}{}",
            "{\"a\":1} x",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":1e+}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":True}",
            "{\"a\":\"x}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":1]",
            "{\"a\":[}",
            "{\"a\":{]}}",
            "{a:1}",
            "{'a':1}",
            "{\"a\":+1}",
            "{\"a\":1}}",
            "{\"a\":[1]]}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.push(format!("{}{}", "{\"a\":".repeat(128), "1".to_string() + &"}".repeat(128)));
        for text in &texts {
            let want = serde_says(text);
            let b = text.as_bytes();
            assert_eq!(check(&[b]), want, "{text:?}");
            for cut in 0..=b.len() {
                assert_eq!(check(&[&b[..cut], &b[cut..]]), want, "{text:?} cut at {cut}");
            }
            let bytes: Vec<&[u8]> = b.chunks(1).collect();
            assert_eq!(check(&bytes), want, "{text:?} byte by byte");
        }
        // Deeper than 128 levels: refused (serde_json skips such a value, it parses none).
        let deep = format!("{}{}", "{\"a\":".repeat(129), "1".to_string() + &"}".repeat(129));
        assert!(!check(&[deep.as_bytes()]));
    }

    #[test]
    fn string_stop_finds_the_first_quote_backslash_or_control_byte_at_every_place() {
        for find in [string_stop, string_stop_swar] {
            for len in 0..40 {
                for at in 0..len {
                    for stop in [b'"', b'\\', 0x00, 0x1f] {
                        let mut s = vec![b'a'; len];
                        s[at] = stop;
                        if at + 1 < len {
                            s[at + 1] = b'"';
                        }
                        assert_eq!(find(&s), Some(at), "{s:?}");
                    }
                }
                // Bytes next to the ones that stop: space, DEL, bytes of 0x80 and more.
                let plain: Vec<u8> = "é ☃ x!~\x7f\u{80}#[]".bytes().cycle().take(len).collect();
                assert_eq!(find(&plain), None, "{plain:?}");
            }
        }
    }

    #[test]
    fn agrees_with_serde_json_on_changed_indexes_cut_anywhere() {
        // An index with every kind of value, then copies with one byte changed, each cut
        // into three parts at places of a fixed pseudo-random sequence.
        let mut entries = Vec::new();
        for n in 0..40 {
            entries.push(format!(
                "\n  \"tmdb:{n}@17000000{n:02}\": {{\n    \"type\": \"movie\",\n    \"title\": \"T\\\"{n}\\u00e9\",\n    \
                 \"year\": {},\n    \"ids\": {{\n      \"tmdb\": \"{n}\"\n    }},\n    \"rating\": {},\n    \
                 \"x\": [{}, true, false, null, [], {{}}, -0.5e-3]\n  }}",
                1990 + n,
                if n % 3 == 0 { "null".to_string() } else { format!("{}", n as f64 / 4.0) },
                -(n as i64),
            ));
        }
        let text = format!("{{{}\n}}", entries.join(","));
        assert!(serde_says(&text));
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        let swaps = b"{}[]:,\"\\ 0123456789-.eEtfnux\n\t";
        for round in 0..3000 {
            let mut t = text.clone().into_bytes();
            if round > 0 {
                let at = next(t.len());
                t[at] = swaps[next(swaps.len())];
            }
            let Ok(t) = String::from_utf8(t) else { continue };
            let want = serde_says(&t);
            let b = t.as_bytes();
            let (x, y) = (next(b.len() + 1), next(b.len() + 1));
            let (x, y) = (x.min(y), x.max(y));
            assert_eq!(check(&[&b[..x], &b[x..y], &b[y..]]), want, "round {round}, cut at {x} and {y}: {t}");
        }
    }

    #[test]
    fn says_what_is_wrong_and_where() {
        let mut c = JsonObjectCheck::default();
        c.feed(b"{\"a\": 1,").unwrap();
        assert_eq!(c.feed(b" ]").unwrap_err(), "an object key expected at byte 9");
        let mut c = JsonObjectCheck::default();
        c.feed(b"{\"a\": [1").unwrap();
        assert_eq!(c.finish().unwrap_err(), "the text ends inside a value, at byte 8");
    }
}
