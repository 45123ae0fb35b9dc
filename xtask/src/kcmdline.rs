//! Quoting of one word for the kernel command line (used until crates/cmdline's
//! `quote()` exists): words with whitespace, quotes or backslashes are double-quoted with
//! `\"` and `\\` escapes; the empty word becomes `""`.

pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if plain {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
