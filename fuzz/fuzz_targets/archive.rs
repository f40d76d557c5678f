#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(blobs) = hutch_storage::blobs::BlobStore::open(&dir.path().join("blobs")) else {
        return;
    };
    let _ = hutch::image::archive::load(data, &blobs);
});
