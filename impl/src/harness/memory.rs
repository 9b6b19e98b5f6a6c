//! The in-memory backend: the qcow2 backend's semantics without files, for fast tests and
//! `livemerge stress`. The merge job is still a real background thread that takes `job_time`,
//! so its completion races with the engine's other threads as a real one would.
//! Faults can be injected per disk (a merge job that fails, a `deleteVolume` that fails).

use crate::storage::{
    Chain, DataCheck, DiskFacts, HostJob, Storage, StorageResult, ThreadJob, BASE, TOP,
};
use crate::sync::lock;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
struct Vol {
    /// The VM's active volume is top (else base, after the pivot).
    active_top: bool,
    top_exists: bool,
    base_has_top: bool,
    job_running: bool,
}

/// Faults to inject, by disk (the same plan the qcow2 backend takes).
pub type MemoryFaults = crate::storage::InjectedFaults;

pub struct Memory {
    vols: Arc<Mutex<Vec<Vol>>>,
    job_time: Duration,
    faults: Mutex<MemoryFaults>,
}

impl Memory {
    /// `n` disks, each `base <- top` with data in both layers.
    pub fn new(n: usize, job_time: Duration) -> Memory {
        Memory::with_faults(n, job_time, MemoryFaults::default())
    }

    pub fn with_faults(n: usize, job_time: Duration, faults: MemoryFaults) -> Memory {
        let v = Vol {
            active_top: true,
            top_exists: true,
            base_has_top: false,
            job_running: false,
        };
        Memory {
            vols: Arc::new(Mutex::new(vec![v; n])),
            job_time,
            faults: Mutex::new(faults),
        }
    }

    fn vol(&self, d: usize) -> Result<Vol, String> {
        self.lock()
            .get(d)
            .copied()
            .ok_or_else(|| format!("no disk {d}"))
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, MemoryFaults> {
        lock(&self.faults)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vol>> {
        lock(&self.vols)
    }
}

impl Storage for Memory {
    fn host(&self) -> crate::storage::Host {
        crate::storage::Host::Memory
    }

    fn disks(&self) -> usize {
        self.lock().len()
    }

    fn vm_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>> {
        let chain = self.read_chain(d)?;
        if !chain.has_top() {
            return Err(crate::storage::qcow2::refused_top(&chain));
        }
        self.start_merge(d)
    }

    fn start_merge(&self, d: usize) -> StorageResult<Box<dyn HostJob>> {
        let vols = Arc::clone(&self.vols);
        if self.vol(d)?.job_running {
            // A re-issued merge (after an engine restart) finds the host's job still running and
            // reports that job's end, as VDSM reports an existing block job.
            let h = std::thread::spawn(move || loop {
                std::thread::sleep(Duration::from_millis(1));
                let v = lock(&vols)[d];
                if !v.job_running {
                    return if !v.active_top && v.base_has_top {
                        Ok(())
                    } else {
                        Err("block commit failed".into())
                    };
                }
            });
            return Ok(Box::new(ThreadJob(h)));
        }
        self.lock()[d].job_running = true;
        let time = self.job_time;
        let fails = self.faults().take_merge_fault(d);
        let h = std::thread::spawn(move || {
            std::thread::sleep(time);
            let mut v = lock(&vols);
            let vol = &mut v[d];
            vol.job_running = false;
            if fails {
                return Err("block commit failed (injected fault)".into());
            }
            if !vol.top_exists {
                return Err("block commit failed: top's volume is missing".into());
            }
            vol.base_has_top = true;
            vol.active_top = false;
            Ok(())
        });
        Ok(Box::new(ThreadJob(h)))
    }

    fn read_chain(&self, d: usize) -> StorageResult<Chain> {
        let v = self.vol(d)?;
        match (v.active_top, v.top_exists) {
            (true, true) => Ok(Chain {
                volumes: vec![TOP.into(), BASE.into()],
            }),
            (true, false) => Err(format!("active volume {TOP} is missing").into()),
            (false, _) => Ok(Chain {
                volumes: vec![BASE.into()],
            }),
        }
    }

    fn delete_top(&self, d: usize) -> StorageResult<()> {
        self.vol(d)?;
        if self.faults().take_delete_fault(d) {
            return Err("deleteVolume failed (injected fault)".into());
        }
        let mut v = self.lock();
        if v[d].active_top && v[d].top_exists {
            return Err(format!("{TOP} is in use by the VM's chain").into());
        }
        v[d].top_exists = false;
        Ok(())
    }

    fn image_info(&self, d: usize) -> StorageResult<bool> {
        let v = self.vol(d)?;
        if self.faults().take_image_info_fault(d) {
            return Err("GetImageInfo got no answer (injected fault)".into());
        }
        Ok(v.top_exists)
    }

    fn facts(&self, d: usize) -> StorageResult<DiskFacts> {
        let v = self.vol(d)?;
        Ok(DiskFacts {
            top_in_chain: v.active_top,
            top_exists: v.top_exists,
            base_has_top: v.base_has_top,
            job_running: v.job_running,
        })
    }

    fn quick_facts(&self, d: usize) -> serde_json::Value {
        match self.facts(d) {
            Ok(f) => json!(f),
            Err(e) => json!({ "error": e.to_string() }),
        }
    }

    fn data_check(&self, d: usize) -> StorageResult<DataCheck> {
        let v = self.vol(d)?;
        Ok(if v.active_top {
            // Reads go through top, then base; a missing active volume reads nothing.
            DataCheck {
                base_data: v.top_exists,
                top_data: v.top_exists,
            }
        } else {
            DataCheck {
                base_data: true,
                top_data: v.base_has_top,
            }
        })
    }
}
