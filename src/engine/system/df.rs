//! `system df` and `GET /libpod/system/df`: Podman's `SystemDfReport`,
//! the images (one row per name, as Podman counts them), the containers
//! with their writable layers' sizes and the volumes with theirs.

use serde::{Deserialize, Serialize};

use crate::config::Context;
use crate::engine::Result;
use crate::engine::container::inspect::rfc3339_nano;
use crate::engine::container::list::{self, ListOptions};
use crate::engine::image::list as image_list;
use crate::engine::volume;
use crate::host::time;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DfReport {
    /// The sum of the image rows' sizes: an image with two names counts
    /// twice, as in Podman's report.
    pub images_size: u64,
    pub images: Vec<DfImage>,
    pub containers: Vec<DfContainer>,
    pub volumes: Vec<DfVolume>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DfImage {
    pub repository: String,
    pub tag: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// RFC 3339.
    pub created: String,
    /// Unix seconds (for the CLI's "x minutes").
    #[serde(skip)]
    pub created_secs: i64,
    pub size: u64,
    pub shared_size: u64,
    pub unique_size: u64,
    pub containers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DfContainer {
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub image: String,
    pub command: Vec<String>,
    pub local_volumes: usize,
    pub size: u64,
    #[serde(rename = "RWSize")]
    pub rw_size: u64,
    pub created: String,
    #[serde(skip)]
    pub created_ns: i64,
    /// The state's word ("running", "exited"), as Podman reports it.
    pub status: String,
    pub names: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DfVolume {
    pub volume_name: String,
    pub links: usize,
    pub size: u64,
    pub reclaimable_size: u64,
}

impl DfReport {
    /// The report a service sent (Podman's `SystemDfReport`), for the
    /// remote client to print with the local printers: the times those
    /// read (not on the wire) taken back from the RFC 3339 fields, and
    /// Go's `null` lists as empty ones.
    pub fn from_wire(mut v: serde_json::Value) -> serde_json::Result<DfReport> {
        for k in ["Images", "Containers", "Volumes"] {
            if v[k].is_null() {
                v[k] = serde_json::json!([]);
            }
        }
        // Podman's service leaves it out: the sum of the image rows, as
        // the engine counts it.
        if v["ImagesSize"].is_null() {
            let sum: u64 = v["Images"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["Size"].as_u64())
                .sum();
            v["ImagesSize"] = serde_json::json!(sum);
        }
        if let Some(cs) = v["Containers"].as_array_mut() {
            for c in cs {
                if c["Command"].is_null() {
                    c["Command"] = serde_json::json!([]);
                }
            }
        }
        let mut r: DfReport = serde_json::from_value(v)?;
        for i in &mut r.images {
            i.created_secs = time::parse_rfc3339(&i.created).unwrap_or(0);
        }
        for c in &mut r.containers {
            c.created_ns = time::parse_rfc3339(&c.created).unwrap_or(0) * 1_000_000_000;
        }
        Ok(r)
    }
}

pub fn report(ctx: &Context) -> Result<DfReport> {
    let store = crate::engine::image::open_store(ctx)?;
    let state = crate::engine::container::open_state(ctx)?;
    let opts = ListOptions {
        all: true,
        size: true,
        ..ListOptions::default()
    };
    let containers = list::list(ctx, &store, &state, &opts)?;
    let images = image_list::list(
        &store,
        &image_list::ListRequest {
            filters: Vec::new(),
            name: None,
        },
    )?;
    let mut rows = Vec::new();
    let mut images_size = 0u64;
    for l in &images {
        let users = containers
            .iter()
            .filter(|c| c.image_id == l.record.id.hex())
            .count();
        let names = if l.record.names.is_empty() {
            vec!["<none>:<none>".to_owned()]
        } else {
            l.record.names.clone()
        };
        for n in names {
            let (repo, tag) = image_list::repo_tag(&n);
            images_size += l.record.size;
            rows.push(DfImage {
                repository: repo,
                tag,
                image_id: l.record.id.hex().to_owned(),
                created: time::rfc3339(l.created),
                created_secs: l.created,
                size: l.record.size,
                shared_size: 0,
                unique_size: l.record.size,
                containers: users,
            });
        }
    }
    let mut ctr_rows = Vec::new();
    for c in &containers {
        let (rw, root) = c.size.unwrap_or((0, 0));
        let local_volumes = state.container_volumes(&c.id).map(|v| v.len()).unwrap_or(0);
        ctr_rows.push(DfContainer {
            container_id: c.id.clone(),
            image: c.image_id.clone(),
            command: c.args.clone(),
            local_volumes,
            size: rw + root,
            rw_size: rw,
            created: rfc3339_nano(Some(c.created)),
            created_ns: c.created,
            status: c.state_name.to_owned(),
            names: c.name.clone(),
        });
    }
    let mut volumes = Vec::new();
    for v in state.list_volumes()? {
        let links = state.volume_users(&v.name).map(|u| u.len()).unwrap_or(0);
        let size = list::tree_size(&volume::volume_dir(&v));
        volumes.push(DfVolume {
            volume_name: v.name,
            links,
            size,
            reclaimable_size: if links == 0 { size } else { 0 },
        });
    }
    Ok(DfReport {
        images_size,
        images: rows,
        containers: ctr_rows,
        volumes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_services_report_reads_back_with_its_times() {
        // Podman's service: Go's `null` for an empty list and a command.
        let v = serde_json::json!({
            "Images": [{"Repository": "localhost/busybox", "Tag": "latest",
                "ImageID": "ab", "Created": "2024-01-02T03:04:05Z", "Size": 10,
                "SharedSize": 0, "UniqueSize": 10, "Containers": 1}],
            "Containers": [{"ContainerID": "cd", "Image": "ab", "Command": null,
                "LocalVolumes": 0, "Size": 3, "RWSize": 1,
                "Created": "2024-01-02T03:04:06.5+00:00", "Status": "exited", "Names": "c"}],
            "Volumes": null
        });
        let r = DfReport::from_wire(v).expect("read");
        assert_eq!(r.images_size, 10, "summed when the service leaves it out");
        assert_eq!(r.images[0].created_secs, 1_704_164_645);
        assert_eq!(r.containers[0].created_ns, 1_704_164_646_000_000_000);
        assert!(r.containers[0].command.is_empty() && r.volumes.is_empty());
        assert!(DfReport::from_wire(serde_json::json!({"Images": 3})).is_err());
    }
}
