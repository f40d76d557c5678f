//! The few fields of an X.509 certificate that path validation (done by
//! rustls-webpki in [`super::fulcio`]) does not hand back: the validity
//! window, the subject public key, the e-mail addresses of the subject
//! alternative names and Fulcio's OIDC issuer extension. Read with `der`
//! from untrusted bytes: every length is checked by it, nothing is
//! trusted before the path is validated.
//!
//! Bounds (outside input): a PEM text at most [`MAX_PEM_BYTES`] with at
//! most [`MAX_PEM_CERTS`] certificates; one certificate at most
//! [`MAX_CERT_BYTES`] of DER, at most [`MAX_EXTENSIONS`] extensions and
//! [`MAX_NAMES`] alternative names.

use base64::Engine as _;
use der::asn1::{GeneralizedTime, UtcTime};
use der::{Decode, Header, Reader, SliceReader, Tag, TagNumber};

/// The most hutch reads of a PEM text of certificates (a policy's CA
/// bundle, a signature's certificate or chain annotation).
pub const MAX_PEM_BYTES: usize = 1 << 20;
/// The most certificates one PEM text may hold.
pub const MAX_PEM_CERTS: usize = 64;
/// The most DER bytes of one certificate (Fulcio's are ~1 KiB).
pub const MAX_CERT_BYTES: usize = 64 << 10;
/// The most extensions of one certificate.
pub const MAX_EXTENSIONS: usize = 64;
/// The most subject alternative names read from one certificate.
pub const MAX_NAMES: usize = 256;

/// Fulcio's OIDC issuer extension (1.3.6.1.4.1.57264.1.1), the OID's DER
/// value bytes. Its value is the issuer URL as raw bytes, not an ASN.1
/// string: containers/image reads it so.
const OID_FULCIO_ISSUER: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x01];
/// Subject alternative name (2.5.29.17).
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// What hutch reads of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFields {
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// The SubjectPublicKeyInfo, DER (tag and length included).
    pub spki: Vec<u8>,
    /// `rfc822Name` alternative names.
    pub emails: Vec<String>,
    /// Fulcio's OIDC issuer extension; `Err` when it appears twice.
    pub oidc_issuer: Option<Result<String, String>>,
}

/// The DER of every `CERTIFICATE` block of a PEM text, in order. Text
/// around the blocks is ignored, as Go's `pem.Decode` does; a block of
/// another type is an error.
pub fn pem_certificates(text: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if text.len() > MAX_PEM_BYTES {
        return Err(format!("PEM data is larger than {MAX_PEM_BYTES} bytes"));
    }
    let text = std::str::from_utf8(text).map_err(|_| "PEM data is not UTF-8".to_owned())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let (label, body) = after
            .split_once("-----")
            .ok_or("malformed PEM BEGIN line")?;
        let end_line = format!("-----END {label}-----");
        let (b64, tail) = body
            .split_once(&end_line)
            .ok_or_else(|| format!("no PEM END line for {label}"))?;
        if label != "CERTIFICATE" {
            return Err(format!("unexpected PEM block type {label:?}"));
        }
        if out.len() >= MAX_PEM_CERTS {
            return Err(format!("more than {MAX_PEM_CERTS} certificates"));
        }
        let b64: String = b64.split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("PEM body: {e}"))?;
        out.push(der);
        rest = tail;
    }
    Ok(out)
}

/// The one certificate of a PEM text: zero or several are errors
/// (containers/image's words).
pub fn single_pem_certificate(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut certs = pem_certificates(text)?;
    match certs.len() {
        0 => Err("no certificate found in signature certificate data".into()),
        1 => Ok(certs.remove(0)),
        _ => Err("unexpected multiple certificates present in signature certificate data".into()),
    }
}

/// One TLV at the reader: its tag, its value, and the whole TLV.
fn tlv<'a>(r: &mut SliceReader<'a>) -> der::Result<(Tag, &'a [u8], &'a [u8])> {
    let whole = r.tlv_bytes()?;
    let mut inner = SliceReader::new(whole)?;
    let header = Header::decode(&mut inner)?;
    let value = inner.read_slice(header.length())?;
    Ok((header.tag(), value, whole))
}

fn context(tag: Tag, number: u8, constructed: bool) -> bool {
    matches!(tag, Tag::ContextSpecific { constructed: c, number: n }
        if c == constructed && n == TagNumber(number.into()))
}

fn time(tag: Tag, whole: &[u8]) -> Result<i64, String> {
    let d = match tag {
        Tag::UtcTime => UtcTime::from_der(whole).map(|t| t.to_unix_duration()),
        Tag::GeneralizedTime => GeneralizedTime::from_der(whole).map(|t| t.to_unix_duration()),
        _ => return Err("validity is not a time".into()),
    }
    .map_err(|e| format!("validity: {e}"))?;
    i64::try_from(d.as_secs()).map_err(|_| "validity out of range".into())
}

/// Reads the fields hutch needs from a DER certificate. Structure only:
/// nothing here says the certificate is trustworthy.
pub fn parse(der: &[u8]) -> Result<CertFields, String> {
    if der.len() > MAX_CERT_BYTES {
        return Err(format!("certificate is larger than {MAX_CERT_BYTES} bytes"));
    }
    parse_inner(der).map_err(|e| format!("parsing certificate: {e}"))
}

fn parse_inner(der: &[u8]) -> Result<CertFields, String> {
    let e = |e: der::Error| e.to_string();
    let mut top = SliceReader::new(der).map_err(e)?;
    let (tag, cert, _) = tlv(&mut top).map_err(e)?;
    if tag != Tag::Sequence || !top.is_finished() {
        return Err("not a DER certificate".into());
    }
    let mut c = SliceReader::new(cert).map_err(e)?;
    let (tag, tbs, _) = tlv(&mut c).map_err(e)?;
    if tag != Tag::Sequence {
        return Err("no tbsCertificate".into());
    }
    let mut t = SliceReader::new(tbs).map_err(e)?;
    let (mut tag, mut value, mut whole) = tlv(&mut t).map_err(e)?;
    if context(tag, 0, true) {
        // [0] version; then the serial number.
        (tag, value, whole) = tlv(&mut t).map_err(e)?;
    }
    let _ = (value, whole);
    if tag != Tag::Integer {
        return Err("no serial number".into());
    }
    for what in ["signature algorithm", "issuer"] {
        let (tag, _, _) = tlv(&mut t).map_err(e)?;
        if tag != Tag::Sequence {
            return Err(format!("no {what}"));
        }
    }
    let (tag, validity, _) = tlv(&mut t).map_err(e)?;
    if tag != Tag::Sequence {
        return Err("no validity".into());
    }
    let mut v = SliceReader::new(validity).map_err(e)?;
    let (tag, _, whole) = tlv(&mut v).map_err(e)?;
    let not_before = time(tag, whole)?;
    let (tag, _, whole) = tlv(&mut v).map_err(e)?;
    let not_after = time(tag, whole)?;
    let (tag, _, _) = tlv(&mut t).map_err(e)?;
    if tag != Tag::Sequence {
        return Err("no subject".into());
    }
    let (tag, _, spki) = tlv(&mut t).map_err(e)?;
    if tag != Tag::Sequence {
        return Err("no subject public key".into());
    }
    let mut fields = CertFields {
        not_before,
        not_after,
        spki: spki.to_vec(),
        emails: Vec::new(),
        oidc_issuer: None,
    };
    while !t.is_finished() {
        let (tag, value, _) = tlv(&mut t).map_err(e)?;
        if context(tag, 3, true) {
            extensions(value, &mut fields)?;
        }
    }
    Ok(fields)
}

fn extensions(explicit: &[u8], fields: &mut CertFields) -> Result<(), String> {
    let e = |e: der::Error| e.to_string();
    let mut r = SliceReader::new(explicit).map_err(e)?;
    let (tag, list, _) = tlv(&mut r).map_err(e)?;
    if tag != Tag::Sequence {
        return Err("extensions are not a sequence".into());
    }
    let mut list = SliceReader::new(list).map_err(e)?;
    let mut count = 0;
    while !list.is_finished() {
        count += 1;
        if count > MAX_EXTENSIONS {
            return Err(format!("more than {MAX_EXTENSIONS} extensions"));
        }
        let (tag, ext, _) = tlv(&mut list).map_err(e)?;
        if tag != Tag::Sequence {
            return Err("an extension is not a sequence".into());
        }
        let mut x = SliceReader::new(ext).map_err(e)?;
        let (tag, oid, _) = tlv(&mut x).map_err(e)?;
        if tag != Tag::ObjectIdentifier {
            return Err("an extension has no OID".into());
        }
        let (mut tag, mut value, _) = tlv(&mut x).map_err(e)?;
        if tag == Tag::Boolean {
            (tag, value, _) = tlv(&mut x).map_err(e)?;
        }
        if tag != Tag::OctetString || !x.is_finished() {
            return Err("an extension has no value".into());
        }
        if oid == OID_FULCIO_ISSUER {
            fields.oidc_issuer = Some(match fields.oidc_issuer {
                Some(_) => Err("Fulcio certificate has a duplicate OIDC issuer extension".into()),
                None => Ok(String::from_utf8_lossy(value).into_owned()),
            });
        } else if oid == OID_SAN {
            alt_names(value, fields)?;
        }
    }
    Ok(())
}

/// `GeneralNames`: the `rfc822Name` ([1] IA5String) entries.
fn alt_names(value: &[u8], fields: &mut CertFields) -> Result<(), String> {
    let e = |e: der::Error| e.to_string();
    let mut r = SliceReader::new(value).map_err(e)?;
    let (tag, names, _) = tlv(&mut r).map_err(e)?;
    if tag != Tag::Sequence {
        return Err("subject alternative names are not a sequence".into());
    }
    let mut names = SliceReader::new(names).map_err(e)?;
    let mut count = 0;
    while !names.is_finished() {
        count += 1;
        if count > MAX_NAMES {
            return Err(format!("more than {MAX_NAMES} alternative names"));
        }
        let (tag, name, _) = tlv(&mut names).map_err(e)?;
        if context(tag, 1, false) {
            let email = std::str::from_utf8(name)
                .ok()
                .filter(|s| s.is_ascii())
                .ok_or("an e-mail alternative name is not IA5")?;
            fields.emails.push(email.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_fulcio_like_leaf() {
        let der = single_pem_certificate(include_bytes!("testdata/leaf.pem")).unwrap();
        let f = parse(&der).unwrap();
        assert_eq!(f.emails, ["signer@example.com"]);
        assert_eq!(
            f.oidc_issuer,
            Some(Ok("https://issuer.example.com".to_owned()))
        );
        assert!(f.not_before < f.not_after);
        assert_eq!(f.spki[0], 0x30);
    }

    #[test]
    fn pem_and_der_errors_are_errors() {
        assert!(single_pem_certificate(b"").is_err());
        let two = [
            &include_bytes!("testdata/ca.pem")[..],
            include_bytes!("testdata/leaf.pem"),
        ]
        .concat();
        assert_eq!(pem_certificates(&two).unwrap().len(), 2);
        assert!(single_pem_certificate(&two).is_err());
        assert!(
            pem_certificates(b"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
        let der = single_pem_certificate(include_bytes!("testdata/leaf.pem")).unwrap();
        for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
            assert!(parse(&der[..cut]).is_err(), "{cut}");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(parse(&trailing).is_err());
    }
}
