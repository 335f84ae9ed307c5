//! Just enough multipart/form-data parsing for the requests reqwest writes
//! for teloxide (no nested parts, no transfer encodings).

pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| param.trim().strip_prefix("boundary=")).map(|value| value.trim_matches('"'))
}

pub fn parse(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    split(body, delimiter.as_bytes())
        .into_iter()
        .skip(1) // the preamble
        .take_while(|chunk| !chunk.starts_with(b"--")) // the closing delimiter
        .filter_map(parse_part)
        .collect()
}

fn split<'a>(mut haystack: &'a [u8], needle: &[u8]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    while let Some(at) = find(haystack, needle) {
        chunks.push(&haystack[..at]);
        haystack = &haystack[at + needle.len()..];
    }
    chunks.push(haystack);
    chunks
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// One part: `\r\n` headers `\r\n\r\n` content `\r\n`.
fn parse_part(chunk: &[u8]) -> Option<Part> {
    let chunk = chunk.strip_prefix(b"\r\n")?;
    let header_end = find(chunk, b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&chunk[..header_end]);
    let content = &chunk[header_end + 4..];
    let content = content.strip_suffix(b"\r\n").unwrap_or(content);

    let disposition = headers
        .lines()
        .find_map(|line| {
            line.split_once(':').filter(|(name, _)| name.trim().eq_ignore_ascii_case("content-disposition"))
        })?
        .1;
    Some(Part {
        name: disposition_param(disposition, "name")?,
        file_name: disposition_param(disposition, "filename"),
        bytes: content.to_vec(),
    })
}

/// `form-data; name="video"; filename="clip.mp4"` → the value of `key`.
fn disposition_param(disposition: &str, key: &str) -> Option<String> {
    disposition.split(';').find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        (name == key).then(|| value.trim_matches('"').to_owned())
    })
}
