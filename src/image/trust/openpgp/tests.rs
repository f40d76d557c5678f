//! Signatures and keys made by gpg 2.2.40 (testdata/): an Ed25519 key
//! exported armored, an RSA 2048 key exported binary, and the same payload
//! signed by each (`gpg --sign`; ZIP-compressed, `-z 0`, `--armor`,
//! SHA-512, SHA-1).

use super::*;

const ED_KEY: &[u8] = include_bytes!("testdata/ed.asc");
const RSA_KEY: &[u8] = include_bytes!("testdata/rsa.gpg");
const PAYLOAD: &[u8] = include_bytes!("testdata/payload");
const NOW: u64 = 1_800_000_000;

fn ring(keys: &[&[u8]]) -> Keyring {
    let mut k = Keyring::default();
    for key in keys {
        k.add(key).unwrap();
    }
    k
}

#[test]
fn gpg_signatures_verify_with_their_key_only() {
    let ed = ring(&[ED_KEY]);
    let rsa = ring(&[RSA_KEY]);
    let both = ring(&[ED_KEY, RSA_KEY]);
    assert_eq!(ed.keys.len(), 1);
    for (sig, good) in [
        (&include_bytes!("testdata/ed.sig")[..], &ed),
        (&include_bytes!("testdata/ed-plain.sig")[..], &ed),
        (&include_bytes!("testdata/ed.sig.asc")[..], &ed),
        (&include_bytes!("testdata/rsa.sig")[..], &rsa),
    ] {
        let v = verify(good, sig, NOW).unwrap();
        assert_eq!(v.content, PAYLOAD);
        assert_eq!(v.signer.len(), 40, "{}", v.signer);
        assert_eq!(verify(&both, sig, NOW).unwrap().content, PAYLOAD);
        let other = if std::ptr::eq(good, &ed) { &rsa } else { &ed };
        assert!(matches!(verify(other, sig, NOW), Err(PgpError::NoKey(_))));
    }
    let e = verify(&rsa, include_bytes!("testdata/rsa-sha1.sig"), NOW).unwrap_err();
    assert!(e.to_string().contains("SHA-1"), "{e}");
}

#[test]
fn tampered_content_does_not_verify() {
    let ed = ring(&[ED_KEY]);
    // The uncompressed signature holds the payload in the clear: change
    // one byte of it.
    let mut sig = include_bytes!("testdata/ed-plain.sig").to_vec();
    let at = sig
        .windows(8)
        .position(|w| w == b"r.io/a:1")
        .expect("payload in the clear");
    sig[at + 7] = b'2';
    assert!(matches!(verify(&ed, &sig, NOW), Err(PgpError::NoKey(_))));
}

#[test]
fn garbage_is_an_error() {
    let ed = ring(&[ED_KEY]);
    for input in [
        &b""[..],
        b"\x00",
        b"\xff\xff\xff",
        b"-----BEGIN PGP MESSAGE-----\n",
        PAYLOAD,
    ] {
        assert!(verify(&ed, input, NOW).is_err());
    }
    let mut k = Keyring::default();
    assert!(k.add(b"\x99\x00\x05\x04").is_err());
    k.add(PAYLOAD).unwrap_err();
}
