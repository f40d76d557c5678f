//! The names every file gives its service and its resource, read before
//! any file is translated, so that a reference to another file
//! (`Network=db.network`, `Pod=web.pod`, `Image=app.build`, `After=` in
//! `[Unit]`) becomes that file's names, as in Podman's generator.

use std::collections::BTreeMap;

use super::unit_file::UnitFile;

/// What other files need to know of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitInfo {
    /// The service, without `.service`: `ServiceName=`, else the file's
    /// stem with `-volume`, `-network`, `-pod`, `-image` or `-build`
    /// (none for `.container` and `.kube`).
    pub service: String,
    /// What the service makes: the container, volume, network or pod
    /// name, or the image reference; `None` for a `.kube` file.
    pub resource: Option<String>,
    /// For a `.pod`: the services of the containers that start with it
    /// (`StartWithPod=`, true by default).
    pub pod_members: Vec<String>,
}

impl UnitInfo {
    pub fn service_file(&self) -> String {
        format!("{}.service", self.service)
    }
}

/// Every file's [`UnitInfo`], by file name (`db.network`).
#[derive(Debug, Clone, Default)]
pub struct Units {
    map: BTreeMap<String, UnitInfo>,
}

/// The `[Group]` of a file kind.
pub fn group_of(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "container" => "Container",
        "volume" => "Volume",
        "network" => "Network",
        "pod" => "Pod",
        "kube" => "Kube",
        "image" => "Image",
        "build" => "Build",
        _ => return None,
    })
}

/// The last value of `key` in `group` (systemd's rule for single values).
pub fn last<'a>(file: &'a UnitFile, group: &str, key: &str) -> Option<&'a str> {
    file.section(group)
        .filter(|e| e.key == key)
        .last()
        .map(|e| e.value.as_str())
        .filter(|v| !v.is_empty())
}

fn first<'a>(file: &'a UnitFile, group: &str, key: &str) -> Option<&'a str> {
    file.section(group)
        .find(|e| e.key == key && !e.value.is_empty())
        .map(|e| e.value.as_str())
}

impl Units {
    pub fn collect<'a>(files: impl Iterator<Item = (&'a str, &'a UnitFile)>) -> Units {
        let mut map = BTreeMap::new();
        let mut members: Vec<(String, String)> = Vec::new();
        for (name, file) in files {
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            let Some(group) = group_of(ext) else { continue };
            let suffix = match ext {
                "container" | "kube" => String::new(),
                e => format!("-{e}"),
            };
            let service = last(file, group, "ServiceName")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{stem}{suffix}"));
            let named = |key: &str| {
                Some(
                    last(file, group, key)
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("systemd-{stem}")),
                )
            };
            let resource = match ext {
                // Podman's default is `systemd-%N`: the service's name.
                "container" => Some(
                    last(file, group, "ContainerName")
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("systemd-{service}")),
                ),
                "volume" => named("VolumeName"),
                "network" => named("NetworkName"),
                "pod" => named("PodName"),
                "image" => last(file, group, "ImageTag")
                    .or_else(|| last(file, group, "Image"))
                    .map(str::to_owned),
                "build" => first(file, group, "ImageTag").map(str::to_owned),
                _ => None,
            };
            if ext == "container"
                && let Some(pod) = last(file, group, "Pod")
                && !matches!(
                    last(file, group, "StartWithPod")
                        .map(str::to_ascii_lowercase)
                        .as_deref(),
                    Some("0" | "no" | "false" | "off")
                )
            {
                members.push((pod.to_owned(), format!("{service}.service")));
            }
            map.insert(
                name.to_owned(),
                UnitInfo {
                    service,
                    resource,
                    pod_members: Vec::new(),
                },
            );
        }
        for (pod, svc) in members {
            if let Some(p) = map.get_mut(&pod) {
                p.pod_members.push(svc);
            }
        }
        Units { map }
    }

    pub fn get(&self, name: &str) -> Option<&UnitInfo> {
        self.map.get(name)
    }
}
