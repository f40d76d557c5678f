//! CDI devices: `--device vendor.com/class=name` and `--gpus` from spec
//! files (YAML and JSON) in a directory the test controls (containers.conf
//! `cdi_spec_dirs`, as Podman has it). The "GPUs" are /dev/null and
//! /dev/zero shown under other names; a hook writes a file.

mod common;

use std::path::PathBuf;

use common::images::busybox_env;
use common::*;

struct Cdi {
    env: TestEnv,
    hook_out: PathBuf,
}

fn cdi_env() -> Cdi {
    let env = busybox_env(&[]);
    let dir = env.root.join("cdi");
    std::fs::create_dir(&dir).unwrap();
    let hook_dir = env.root.join("hook");
    std::fs::create_dir(&hook_dir).unwrap();
    chown(&hook_dir, env.user.uid, env.user.gid);
    let hook_out = hook_dir.join("ran");
    // The hook reads the state the runtime writes on its stdin, as real
    // hooks do: one that exits first can make crun fail with "writing to
    // pipe: Broken pipe" (seen under load).
    std::fs::write(
        dir.join("example.yaml"),
        format!(
            r#"
cdiVersion: "0.6.0"
kind: "example.com/gpu"
containerEdits:
  env: ["EXAMPLE_SPEC=1"]
  hooks:
    - hookName: createRuntime
      path: /bin/sh
      args: ["sh", "-c", "cat >/dev/null; echo ran >> {}"]
devices:
  - name: "0"
    containerEdits:
      env: ["GPU_0=present"]
      deviceNodes:
        - path: /dev/examplegpu0
          hostPath: /dev/null
  - name: "1"
    containerEdits:
      deviceNodes:
        - path: /dev/examplegpu1
          hostPath: /dev/zero
"#,
            hook_out.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("nvidia.json"),
        r#"{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[
            {"name":"0","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0","hostPath":"/dev/null"}]}},
            {"name":"1","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia1","hostPath":"/dev/zero"}]}}],
           "containerEdits":{"env":["NVIDIA_SPEC=json"]}}"#,
    )
    .unwrap();
    let mut conf = format!("[engine]\ncdi_spec_dirs = [\"{}\"]\n", dir.display());
    if let Ok(rt) = std::env::var("HUTCH_TEST_RUNTIME")
        && !rt.is_empty()
    {
        conf.push_str(&format!("runtime = \"{rt}\"\n"));
    }
    env.write_containers_conf(&conf);
    Cdi { env, hook_out }
}

/// The /dev entries whose names start with `prefix`, as the container sees
/// them.
fn devs(env: &TestEnv, flags: &[&str], prefix: &str) -> Vec<String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "ls", "/dev"]);
    let out = env.ok(&args);
    out.split_whitespace()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_cdi_device_brings_its_node_env_and_hook() {
    let c = cdi_env();
    let out = c.env.ok([
        "run",
        "--rm",
        "--device",
        "example.com/gpu=0",
        "busybox",
        "sh",
        "-c",
        "ls /dev; echo GPU_0=$GPU_0 SPEC=$EXAMPLE_SPEC; cat /dev/examplegpu0 | wc -c",
    ]);
    assert!(out.contains("examplegpu0"), "{out}");
    assert!(!out.contains("examplegpu1"), "{out}");
    assert!(out.contains("GPU_0=present SPEC=1"), "{out}");
    // The node is the host's /dev/null: reading it gives nothing.
    assert_eq!(out.lines().last().map(str::trim), Some("0"), "{out}");
    let ran = std::fs::read_to_string(&c.hook_out).expect("the spec's hook ran");
    assert_eq!(ran.trim(), "ran");
}

#[test]
fn all_gives_every_device_unless_a_job_allocated_some() {
    let mut c = cdi_env();
    assert_eq!(
        devs(&c.env, &["--device", "example.com/gpu=all"], "examplegpu"),
        vec!["examplegpu0", "examplegpu1"]
    );
    c.env.vars.push(("CUDA_VISIBLE_DEVICES".into(), "1".into()));
    let _ = std::fs::remove_file(&c.hook_out);
    assert_eq!(
        devs(&c.env, &["--device", "example.com/gpu=all"], "examplegpu"),
        vec!["examplegpu1"]
    );
    // The spec's hook still runs for the one device left.
    let ran = std::fs::read_to_string(&c.hook_out).expect("the spec's hook ran");
    assert_eq!(ran.trim(), "ran");
    // Slurm's host indices win over CUDA_VISIBLE_DEVICES.
    c.env.vars.push(("SLURM_JOB_GPUS".into(), "0".into()));
    assert_eq!(devs(&c.env, &["--gpus", "all"], "nvidia"), vec!["nvidia0"]);
}

#[test]
fn gpus_flag_maps_to_nvidia_cdi_devices_from_a_json_spec() {
    let c = cdi_env();
    assert_eq!(
        devs(&c.env, &["--gpus", "all"], "nvidia"),
        vec!["nvidia0", "nvidia1"]
    );
    assert_eq!(
        devs(&c.env, &["--gpus", "device=1"], "nvidia"),
        vec!["nvidia1"]
    );
    let out = c.env.ok([
        "run",
        "--rm",
        "--gpus",
        "1",
        "busybox",
        "sh",
        "-c",
        "echo $NVIDIA_SPEC",
    ]);
    assert_eq!(out.trim(), "json");
}

#[test]
fn an_unknown_device_is_refused_naming_what_exists() {
    let c = cdi_env();
    let out = c
        .env
        .run(["create", "--device", "example.com/gpu=9", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("example.com/gpu=9") && err.contains("example.com/gpu=0"),
        "{err}"
    );
    assert_eq!(c.env.ok(["ps", "-aq"]).trim(), "", "nothing created");
}

#[test]
fn info_lists_the_cdi_devices_found() {
    let c = cdi_env();
    let json: serde_json::Value =
        serde_json::from_str(&c.env.ok(["info", "--format", "json"])).unwrap();
    let names: Vec<&str> = json["host"]["cdiDevices"]
        .as_array()
        .expect("cdiDevices")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for n in [
        "example.com/gpu=0",
        "example.com/gpu=1",
        "nvidia.com/gpu=0",
        "nvidia.com/gpu=1",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let dirs = &json["host"]["cdiSpecDirs"];
    assert_eq!(dirs[0], c.env.root.join("cdi").display().to_string());
}
