//! An index text as hosts print it. The component's text (`Adapter::index_json_to`) goes
//! part by part into a spool (memory up to `SPOOL_MEMORY`, then an unnamed temporary file), so
//! the host never holds all of it (a 100,000-play history is about 43 MB) and nothing reaches
//! the output before the last part came and the whole was checked to be one JSON object: a
//! text cut short by a failure is never printed as the index. Printed pretty (`serde_json`'s form): as it is when it is in
//! that form already (the Trakt adapter writes it so), else re-indented token by token.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

use crate::json_check::JsonObjectCheck;
use crate::runtime::IndexTextSink;

/// Text kept in memory (the parts as they came, no copy) before the spool moves to a file: a
/// watchlist, ratings or a 20,000-play history never touch the disk; a longer history costs
/// the host this much.
const SPOOL_MEMORY: usize = 16 << 20;

/// The beginning of an index object in the pretty form (`{}` is the other).
const PRETTY_START: &[u8] = b"{\n  \"";

/// Parts of an index text being spooled (an `IndexTextSink`).
#[derive(Default)]
pub struct Spool {
    /// The text so far: parts in memory, or (past `SPOOL_MEMORY`) an unnamed file.
    text: Spooled,
    len: u64,
    /// The text's first bytes, to tell its form.
    head: Vec<u8>,
    /// The syntax check, fed as the parts come; its first complaint.
    check: JsonObjectCheck,
    broken: Option<String>,
}

enum Spooled {
    Memory(Vec<String>),
    File(File),
}

impl Default for Spooled {
    fn default() -> Self {
        Spooled::Memory(Vec::new())
    }
}

impl Spool {
    /// An empty spool (its file, once it has one, is unnamed: gone when dropped, whatever
    /// happens).
    pub fn new() -> Spool {
        Spool::default()
    }

    /// The spooled text, checked: one JSON object, nothing after it.
    pub fn finish(mut self) -> Result<Index, String> {
        if let Some(why) = self.broken.take() {
            return Err(not_an_object(&why));
        }
        self.check.finish().map_err(|why| not_an_object(&why))?;
        let pretty = self.head.starts_with(PRETTY_START) || (self.len == 2 && self.head == b"{}");
        if let Spooled::File(f) = &mut self.text {
            f.seek(SeekFrom::Start(0)).map_err(|e| format!("cannot read the spooled index back: {e}"))?;
        }
        Ok(Index { text: self.text, pretty })
    }

    fn keep(&mut self, part: String) -> io::Result<()> {
        let held = match &mut self.text {
            Spooled::File(f) => return f.write_all(part.as_bytes()),
            Spooled::Memory(parts) => parts.iter().map(String::len).sum::<usize>(),
        };
        if held + part.len() <= SPOOL_MEMORY {
            if let Spooled::Memory(parts) = &mut self.text {
                parts.push(part);
            }
            return Ok(());
        }
        let mut file = tempfile::tempfile()?;
        if let Spooled::Memory(parts) = std::mem::take(&mut self.text) {
            for p in parts {
                file.write_all(p.as_bytes())?;
            }
        }
        file.write_all(part.as_bytes())?;
        self.text = Spooled::File(file);
        Ok(())
    }
}

impl IndexTextSink for Spool {
    fn part(&mut self, text: String) -> Result<(), String> {
        if self.head.len() < PRETTY_START.len() {
            let more = (PRETTY_START.len() - self.head.len()).min(text.len());
            self.head.extend_from_slice(&text.as_bytes()[..more]);
        }
        self.len += text.len() as u64;
        if self.broken.is_none() {
            if let Err(why) = self.check.feed(text.as_bytes()) {
                // Told once the text is complete (`finish`): the component is not stopped
                // for a text that is not JSON, only the text is refused.
                self.broken = Some(why);
            }
        }
        if self.broken.is_some() {
            return Ok(());
        }
        self.keep(text).map_err(|e| format!("cannot spool the index text: {e}"))
    }
}

fn not_an_object(why: &str) -> String {
    format!("the component's index is not a JSON object: {why}")
}

/// A checked index text, ready to print.
pub struct Index {
    text: Spooled,
    pretty: bool,
}

impl Index {
    /// Print the text pretty, then a line break.
    pub fn print(self, out: &mut dyn Write) -> io::Result<()> {
        match (self.text, self.pretty) {
            (Spooled::Memory(parts), true) => {
                for p in &parts {
                    out.write_all(p.as_bytes())?;
                }
                out.write_all(b"\n")?;
                out.flush()
            }
            (Spooled::Memory(parts), false) => print_json_text(out, &parts.concat()),
            (Spooled::File(mut f), true) => {
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    out.write_all(&buf[..n])?;
                }
                out.write_all(b"\n")?;
                out.flush()
            }
            (Spooled::File(f), false) => {
                let mut w = io::BufWriter::with_capacity(1 << 16, out);
                let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, f));
                let mut ser = serde_json::Serializer::pretty(&mut w);
                serde_transcode::transcode(&mut de, &mut ser).map_err(io::Error::other)?;
                writeln!(w)?;
                w.flush()
            }
        }
    }

    /// The text (for callers that want it whole).
    pub fn into_text(self) -> io::Result<String> {
        match self.text {
            Spooled::Memory(parts) => Ok(parts.concat()),
            Spooled::File(mut f) => {
                let mut text = String::new();
                f.read_to_string(&mut text)?;
                Ok(text)
            }
        }
    }
}

/// Print JSON text (checked already) as an index is printed: as it is when it is in the
/// pretty form, else re-indented token by token with no JSON tree.
pub fn print_json_text(out: &mut dyn Write, text: &str) -> io::Result<()> {
    if text == "{}" || text.as_bytes().starts_with(PRETTY_START) {
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    let mut de = serde_json::Deserializer::from_str(text);
    let mut ser = serde_json::Serializer::pretty(&mut w);
    serde_transcode::transcode(&mut de, &mut ser).map_err(io::Error::other)?;
    writeln!(w)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spooled(parts: &[&str]) -> Result<String, String> {
        let mut spool = Spool::new();
        for p in parts {
            spool.part(p.to_string()).unwrap();
        }
        let index = spool.finish()?;
        let mut out = Vec::new();
        index.print(&mut out).unwrap();
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn parts_are_printed_joined_once_checked_and_pretty() {
        let pretty = "{\n  \"a\": {\n    \"x\": 1\n  },\n  \"b\": {}\n}";
        assert_eq!(spooled(&[&pretty[..7], &pretty[7..20], &pretty[20..]]).unwrap(), format!("{pretty}\n"));
        assert_eq!(spooled(&["{}"]).unwrap(), "{}\n");
        // Another form: re-indented.
        assert_eq!(spooled(&["{\"a\":", "{\"x\":1},\"b\":{}}"]).unwrap(), format!("{pretty}\n"));
        // Past the memory part of the spool: the same bytes, from its file.
        let entries: Vec<String> = (0..500_000).map(|i| format!("\n  \"k{i:07}\": {{\n    \"n\": {i}\n  }}")).collect();
        let big = format!("{{{}\n}}", entries.join(","));
        assert!(big.len() > SPOOL_MEMORY, "{} bytes", big.len());
        let parts: Vec<&str> = big.as_bytes().chunks(2 << 20).map(|c| std::str::from_utf8(c).unwrap()).collect();
        assert_eq!(spooled(&parts).unwrap(), format!("{big}\n"));
        // Cut short, trailing bytes, not an object: refused, nothing printed.
        for bad in [&["{\n  \"a\": {"][..], &["{}", "{}"], &["[1]"], &["  \"s\""], &[""]] {
            let e = spooled(bad).unwrap_err();
            assert!(e.starts_with("the component's index is not a JSON object"), "{bad:?}: {e}");
        }
    }
}
