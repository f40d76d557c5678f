//! Property tests of the parsers that read untrusted or user-edited input:
//! no input makes them panic, and what they accept holds together. They
//! run on stable Rust in every `cargo test` (proptest, 256 cases each by
//! default; `PROPTEST_CASES=100000` for a long run); `fuzz/` has cargo-fuzz
//! targets of the same entry points for coverage-guided runs.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;

use hutch::format::Template;
use hutch::image::reference::Reference;
use hutch::spec::parse;

/// Text that looks like the input a parser expects: its punctuation and
/// keywords more often than uniform noise would give them.
fn texty(alphabet: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(alphabet.chars().collect::<Vec<_>>()).prop_map(|c| c.to_string()),
            1 => any::<char>().prop_map(|c| c.to_string()),
            1 => prop::sample::select(vec![
                "\n", "[[registry]]", "[engine]", "[storage]", "=", "\"", "{{", "}}", ".",
                "range", "end", "json", "table", "if", "else", "printf", "sha256:", "@", ":",
                "/", "..", "\\", "0", "65536", "-1", "4294967295",
            ])
            .prop_map(str::to_owned),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).expect("temp file");
    f.write_all(text.as_bytes()).expect("write temp file");
    p
}

proptest! {
    #[test]
    fn image_references(s in texty("abcdefxyz0123456789:/@._-ABC")) {
        if let Ok(r) = Reference::parse(&s) {
            // What was accepted prints and parses back to the same thing.
            let again = Reference::parse(&r.to_string());
            prop_assert!(again.is_ok(), "{s:?} -> {} does not parse again", r);
        }
    }

    #[test]
    fn go_templates(s in texty("{}. abcXYZ|\"()$0123-_"), json in "[ -~]{0,40}") {
        if let Ok(t) = Template::parse(&s) {
            let value = serde_json::json!({"ID": "abc", "Names": ["x"], "Labels": {"a": "b"},
                "Size": 12, "Nested": {"List": [1, 2], "S": json}});
            let _ = t.render_one(&value);
            let _ = t.render_list(&[value.clone(), serde_json::Value::Null], &Default::default());
        }
    }

    #[test]
    fn subid_files(s in texty("abcdeutest:0123456789#\n ")) {
        let _ = hutch_userns::subid::SubIdFile::parse(Path::new("/etc/subuid"), &s);
    }

    #[test]
    fn published_ports(s in texty("0123456789:.[]/tcpud-")) {
        if let Ok(p) = hutch_rootless_net::PortMapping::parse(&s) {
            prop_assert!(p.range >= 1);
            let _ = p.lines();
            let _ = p.ps_text();
        }
    }

    #[test]
    fn create_flag_values(s in texty("abc/:,=0123456789.rwozZUtmpfsbindvolumetype-")) {
        let cwd = Path::new("/home/u");
        let _ = parse::mount::volume(&s, cwd);
        let _ = parse::mount::mount(&s, cwd);
        let _ = parse::mount::tmpfs(&s);
        let _ = parse::device::device(&s);
        let _ = parse::hosts::add_host(&s);
        let _ = parse::log::size(&s);
        let _ = parse::restart::restart(&s);
        let _ = parse::restart::signal(&s);
        let _ = parse::ulimit::ulimit(&s);
        let _ = parse::security::security(std::slice::from_ref(&s));
        let _ = parse::userns::userns(Some(&s), std::slice::from_ref(&s), &[]);
        let _ = parse::userns::namespace("--pid", Some(&s));
        let _ = parse::env::env_file(&s, &|_| Some("v".into()));
    }

    #[test]
    fn config_files(s in texty("abcdefgruntimecgroup_managerlocationinsecureprefixgraphroot=\"[]\n ")) {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = write(dir.path(), "x.conf", &s);
        let _ = hutch::config::containers::load(std::slice::from_ref(&p));
        let _ = hutch::config::registries::load_from(std::slice::from_ref(&p));
        let _ = hutch::config::storage::load_file(&p, true, 1000, dir.path());
    }
}

/// One tar member with a name, kind and body chosen by the test.
fn tar_of(entries: &[(String, u8, Vec<u8>, String)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, body, link) in entries {
        let mut h = tar::Header::new_gnu();
        let kind = match kind % 6 {
            0 => tar::EntryType::Regular,
            1 => tar::EntryType::Directory,
            2 => tar::EntryType::Symlink,
            3 => tar::EntryType::Link,
            4 => tar::EntryType::Char,
            _ => tar::EntryType::Fifo,
        };
        h.set_entry_type(kind);
        h.set_size(if kind == tar::EntryType::Regular {
            body.len() as u64
        } else {
            0
        });
        h.set_mode(0o644);
        // Raw names: the tar crate's own checks would refuse `..` and `/`.
        let bytes = name.as_bytes();
        let n = bytes.len().min(99);
        h.as_old_mut().name[..n].copy_from_slice(&bytes[..n]);
        let l = link.as_bytes();
        let ln = l.len().min(99);
        h.as_old_mut().linkname[..ln].copy_from_slice(&l[..ln]);
        h.set_cksum();
        let data: &[u8] = if kind == tar::EntryType::Regular {
            body
        } else {
            &[]
        };
        let _ = b.append(&h, data);
    }
    b.into_inner().unwrap_or_default()
}

fn member_name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a",
            "b",
            "..",
            ".",
            "/",
            "x/",
            ".wh.a",
            ".wh..wh..opq",
            "etc",
        ]),
        1..6,
    )
    .prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Layers: whatever the members, nothing is written outside the root.
    #[test]
    fn layer_tars(
        entries in prop::collection::vec(
            (member_name(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..64), member_name()),
            0..12,
        ),
        noise in prop::collection::vec(any::<u8>(), 0..600),
        raw in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("root dir");
        let bytes = if raw { noise } else { tar_of(&entries) };
        let opts = hutch_storage::extract::ApplyOptions {
            whiteouts: hutch_storage::extract::WhiteoutFormat::Naive,
            ownership: hutch_storage::extract::Ownership::Ignore,
            skip_devices: true,
        };
        let _ = hutch_storage::extract::apply_layer(&bytes[..], &root, &opts);
        let outside: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list temp dir")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != "root")
            .collect();
        prop_assert!(outside.is_empty(), "written outside the root: {outside:?}");
    }

    /// Archives for `load`: random members and random JSON metadata.
    #[test]
    fn image_archives(
        manifest in texty("[]{}\":,ConfigRepoTagsLayerssha256/.json "),
        index in texty("[]{}\":,schemaVersionmanifestsdigestsizemediaType "),
        noise in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let blobs = hutch_storage::blobs::BlobStore::open(&dir.path().join("blobs")).expect("blob store");
        let mut b = tar::Builder::new(Vec::new());
        for (name, body) in [("manifest.json", manifest.as_bytes()), ("index.json", index.as_bytes()),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.as_slice()), ("blobs/sha256/ab", &noise[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            let _ = b.append_data(&mut h, name, body);
        }
        let tar = b.into_inner().unwrap_or_default();
        let _ = hutch::image::archive::load(&tar[..], &blobs);
        let _ = hutch::image::archive::load(&noise[..], &blobs);
    }
}

proptest! {
    /// Containerfiles: parsed or refused, never a panic; and the variable
    /// expansion of their words (BuildKit's `${V:-x}` family).
    #[test]
    fn containerfiles(s in texty("FROMRUNCOPYADDENVARGWORKDIR abc$\\{}:-+#%/=\"'<<EOF\n\t[],")) {
        let _ = hutch::image::build::containerfile::parse(&s);
        let vars = |k: &str| (k == "abc").then(|| "v".to_owned());
        let _ = hutch::image::build::expand::word(&s, '\\', &vars);
        let _ = hutch::image::build::expand::words(&s, '`', &vars);
    }

    /// .containerignore patterns, and matching paths against them.
    #[test]
    fn ignore_files(s in texty("!*?[]/\\ab.\n#-^"), path in "[a-z/.*]{0,20}") {
        if let Ok(rules) = hutch::image::build::ignore::IgnoreRules::parse(&s) {
            let _ = rules.excluded(&path);
        }
    }

    /// CDI specs (JSON or YAML) as found in /etc/cdi: recorded as broken or
    /// loaded, never a panic, and device lookups on what loaded answer.
    #[test]
    fn cdi_specs(s in texty("{}[]\":,cdiVersionkinddevicesnamecontainerEditsdeviceNodespath/dev/null0.6.0vendor.com/gpu- \n")) {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "a.json", &s);
        write(dir.path(), "b.yaml", &s);
        let registry = hutch::runtime::cdi::Registry::load(&[dir.path().to_path_buf()]);
        let names = registry.device_names();
        let _ = registry.resolve(&names);
        let _ = registry.resolve(&["vendor.com/gpu=all".to_owned()]);
    }
}

proptest! {
    /// Kubernetes YAML as `kube play` reads it: documents or an error,
    /// never a panic; what parsed lists its unsupported fields.
    #[test]
    fn kubernetes_yaml(s in texty("apiVersion: v1\nkind: PodDeploymentConfigMapmetadataname: spec:containers:- image:envports{}[]\"'#&*|>-\n ")) {
        if let Ok(docs) = hutch::engine::kube::types::parse(&s) {
            for d in &docs {
                let _ = d.unsupported();
            }
        }
    }
}

/// OpenPGP input shaped like what the reader expects: packet headers of
/// the tags it handles (old and new format, partial lengths), compressed
/// packets, MPIs and subpacket lengths, mixed with noise.
fn openpgp_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            2 => any::<u8>().prop_map(|b| vec![b]),
            1 => prop::sample::select(vec![
                vec![0xa3, 0x01], vec![0xa3, 0x02], vec![0xa3, 0x00], vec![0xc8, 0x05, 0x00],
                vec![0x90, 0x0d, 0x03, 0x00, 0x08, 0x16], vec![0xcb, 0xe1], vec![0xcb, 0xff],
                vec![0xac, 0x06, b'b', 0x00, 0, 0, 0, 0], vec![0x88, 0x40, 0x04, 0x00, 0x16, 0x08],
                vec![0x89, 0x01, 0x00, 0x04, 0x00, 0x01, 0x0a], vec![0x98, 0x33, 0x04, 0, 0, 0, 0, 0x16],
                vec![0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01], vec![0x01, 0x07, 0x40],
                vec![0xb9, 0x01, 0x0d, 0x04, 0, 0, 0, 0, 0x01, 0x08, 0x00], vec![0x00, 0x10, 0x21, 0x04],
                vec![0xc2, 0xc0, 0xff], vec![0xff, 0xff, 0xff, 0xff, 0xff], b"-----BEGIN PGP MESSAGE-----\n\n".to_vec(),
                b"\n-----END PGP MESSAGE-----\n".to_vec(), b"owGbwMvMwMEYdOLsw".to_vec(),
            ]),
        ],
        0..48,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    /// Signature files and keyrings (outside input for `signedBy`): the
    /// OpenPGP reader answers or errs, never panics, and garbage never
    /// verifies.
    #[test]
    fn openpgp_messages_and_keyrings(data in openpgp_bytes(), key in openpgp_bytes()) {
        use hutch::image::trust::openpgp::{Keyring, verify};
        let mut ring = Keyring::default();
        let _ = ring.add(&key);
        let _ = ring.add(&data);
        prop_assert!(verify(&ring, &data, 0).is_err() || !ring.keys.is_empty());
        prop_assert!(verify(&Keyring::default(), &data, 0).is_err());
    }
}

proptest! {
    /// Real gpg signatures with bytes changed, cut or inserted: the reader
    /// reaches its deeper paths (decompression, subpackets, MPIs) and
    /// still never panics.
    #[test]
    fn openpgp_mutated_gpg_signatures(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        use hutch::image::trust::openpgp::{Keyring, verify};
        let sigs: [&[u8]; 3] = [
            include_bytes!("../src/image/trust/openpgp/testdata/ed.sig"),
            include_bytes!("../src/image/trust/openpgp/testdata/ed-plain.sig"),
            include_bytes!("../src/image/trust/openpgp/testdata/rsa.sig"),
        ];
        let mut ring = Keyring::default();
        ring.add(include_bytes!("../src/image/trust/openpgp/testdata/ed.asc")).unwrap();
        ring.add(include_bytes!("../src/image/trust/openpgp/testdata/rsa.gpg")).unwrap();
        let mut data = sigs[which].to_vec();
        for (at, byte, op) in edits {
            if data.is_empty() {
                break;
            }
            let i = at.index(data.len());
            match op {
                0 => data[i] = byte,
                1 => data.truncate(i),
                _ => data.insert(i, byte),
            }
        }
        let _ = verify(&ring, &data, 0);
        let mut keys = include_bytes!("../src/image/trust/openpgp/testdata/rsa.gpg").to_vec();
        let i = usize::from(data.first().copied().unwrap_or(0)) % keys.len();
        keys[i] ^= 0x5a;
        let _ = Keyring::default().add(&keys);
    }
}

proptest! {
    /// Fulcio certificates (a signature annotation, outside input): a real
    /// leaf and CA with bytes changed, cut or inserted, as DER and as PEM.
    /// The reader and the chain check answer or err, never panic; a
    /// changed certificate never verifies as the original's key.
    #[test]
    fn fulcio_mutated_certificates(
        which in 0usize..2,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        use hutch::image::trust::{cert, fulcio};
        let pems: [&[u8]; 2] = [
            include_bytes!("../src/image/trust/testdata/leaf.pem"),
            include_bytes!("../src/image/trust/testdata/leaf-via-inter.pem"),
        ];
        let original = cert::single_pem_certificate(pems[which]).unwrap();
        let mut der = original.clone();
        for (at, byte, op) in &edits {
            if der.is_empty() {
                break;
            }
            let i = at.index(der.len());
            match op {
                0 => der[i] = *byte,
                1 => der.truncate(i),
                _ => der.insert(i, *byte),
            }
        }
        let _ = cert::parse(&der);
        use base64::Engine as _;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let root = fulcio::FulcioRoot {
            ca_pem: include_bytes!("../src/image/trust/testdata/ca.pem"),
            oidc_issuer: "https://issuer.example.com",
            subject_email: "signer@example.com",
        };
        // While the original is valid: it verifies, any change does not
        // (the second needs its intermediate, which is not given).
        let during = cert::parse(&original).unwrap().not_before + 60;
        let verdict = fulcio::verify_certificate(&root, during, pem.as_bytes(), None);
        prop_assert_eq!(verdict.is_ok(), der == original && which == 0);
        // PEM text with its framing damaged.
        let mut text = pems[which].to_vec();
        let (at, byte, _) = edits[0];
        let i = at.index(text.len());
        text[i] = byte;
        let _ = cert::pem_certificates(&text);
    }

    /// Rekor SETs (a signature annotation, outside input): JSON shaped
    /// like one, with fields missing, mistyped or extra, never panics and
    /// never verifies without the log's signature.
    #[test]
    fn rekor_sets(
        fields in prop::collection::vec(prop::sample::select(vec![
            r#""SignedEntryTimestamp":"MEUCIQ==""#, r#""SignedEntryTimestamp":1"#,
            r#""Payload":{"body":"e30=","integratedTime":1,"logIndex":2,"logID":"x"}"#,
            r#""Payload":{"body":"e30=","integratedTime":1e3,"logIndex":2,"logID":"x"}"#,
            r#""Payload":{"body":7,"integratedTime":9007199254740993,"logIndex":-1,"logID":""}"#,
            r#""Payload":[]"#, r#""x":null"#, r#""Payload":{"body":"\u0000"}"#,
        ]), 0..4),
        noise in "[ -~]{0,16}",
    ) {
        use hutch::image::trust::{keys, rekor};
        let log = keys::generate().unwrap();
        let set = format!("{{{}}}{noise}", fields.join(","));
        prop_assert!(rekor::verify(log.verifying_key(), set.as_bytes(), b"", "", b"").is_err());
    }
}
