//! `.image` files: a oneshot service that pulls the image with `hutch
//! pull`; `.container` and `.volume` files use it as `Image=NAME.image`
//! (the image's reference, or `ImageTag=` for an archive).

use super::render::{Cmd, Deps, Parts};
use super::{Cx, Service, UnitError, boolean, whole, words};

pub fn translate(cx: &Cx) -> Result<Service, UnitError> {
    cx.require_group("Image")?;
    let file = cx.file;
    let mut cmd = Cmd::new(cx, "Image")?;
    cmd.arg("pull");
    let mut image: Option<String> = None;
    let mut extra: Vec<String> = Vec::new();
    for e in file.section("Image") {
        let v = e.value.as_str();
        match e.key.as_str() {
            "Image" => image = Some(v.to_owned()),
            "Arch" => {
                cmd.flag("--arch", v);
            }
            "OS" => {
                cmd.flag("--os", v);
            }
            "Variant" => {
                cmd.flag("--variant", v);
            }
            "AuthFile" => {
                cmd.flag("--authfile", v);
            }
            "Creds" => {
                cmd.flag("--creds", v);
            }
            "TLSVerify" => {
                cmd.arg(&format!("--tls-verify={}", boolean(file, e)?));
            }
            "ImageTag" | "ServiceName" | "GlobalArgs" => {}
            "PodmanArgs" | "HutchArgs" => extra.extend(words(file, e)?),
            "AllTags"
            | "CertDir"
            | "ContainersConfModule"
            | "DecryptionKey"
            | "Retry"
            | "RetryDelay" => return Err(cx.not_yet(e)),
            _ => return Err(cx.unknown(e, "Image")),
        }
    }
    let Some(image) = image else {
        return Err(whole(&file.path, "Image", "no Image key specified"));
    };
    cmd.args(extra.iter().map(String::as_str)).arg(&image);
    cx.render(Parts {
        group: "Image",
        deps: Deps::default(),
        service: super::volume::oneshot(cmd.line(), true),
        service_after: Vec::new(),
    })
}
