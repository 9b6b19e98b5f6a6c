//! Which branch of [`step`](crate::step) fired. `step` returns it beside the next state so that a
//! reader (the text of a counterexample, the sequence diagram, the engine's poller and its fault
//! plan) never works out from two states what happened: a new branch in `step` is a new variant
//! here, and every reader's `match` must say what it makes of it.

use crate::event::Event;

/// How a grandchild's own end came about (`Event::TaskEnds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ending {
    /// EXTEND's MergeExtend: nothing to extend for a qcow2 volume.
    NothingToExtend,
    /// The Merge grandchild ends SUCCEEDED: VM.merge was accepted (or, from 4.0, its refusal taken
    /// for a running merge); the job is the host's now.
    MergeHandedOver,
    /// MergeStatus: the host's job is gone and top is no longer in the chain.
    ChainMerged,
    /// MergeStatus: the host's job is gone but top is still in the chain.
    TopStillInChain,
    /// DestroyImage: deleteVolume removed top's volume.
    VolumeDeleted,
    /// DestroyImage: deleteVolume's task fails, top's volume being gone already.
    VolumeAlreadyGone,
    /// ReduceImage: nothing to reduce on file storage.
    NothingToReduce,
    /// DestroyImageCheck: top's volume is gone.
    VolumeGone,
    /// DestroyImageCheck: top's volume is still there.
    VolumeStillThere,
}

/// Why the child's `doPolling` ended it FAILED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildFailure {
    /// Its current grandchild is EXECUTION_FAILED and the release fails the child for it.
    GrandchildExecutionFailed,
    /// Its current grandchild FAILED.
    GrandchildFailed,
    /// Its current grandchild succeeded, but a DestroyImage it let through earlier failed and
    /// 4.1.0 counts every grandchild.
    EarlierDestroyFailed,
    /// The child itself never executed (a restart caught it in `execute()`): from 4.2 it ends
    /// FAILED at its first poll.
    NeverExecuted,
}

/// The branch `step` took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    ParentBegins,
    ParentStartsChild,
    ParentReturns,
    /// The parent's `doPolling` decided: SUCCEEDED or FAILED.
    ParentDecides {
        success: bool,
    },
    /// The parent's end-action ran (the snapshot is deleted on success, unlocked on failure).
    ParentEndAction {
        success: bool,
    },
    Restart,
    UserRetries,
    PoolPicksUp,
    ChildReturns,
    /// The child's `execute()` returns without an answer from `GetImageInfo`: it starts at
    /// COMPLETE.
    ImageInfoFails,
    /// The child's `onSucceeded`: syncDbRecords.
    ChildOnSucceeded,
    /// The child's `onFailed`; `merged` when its merge had completed (the disk leaves the
    /// snapshot).
    ChildOnFailed {
        merged: bool,
    },
    /// The child's `doPolling` starts the current step's grandchild (the first poll).
    ChildStartsGrandchild,
    /// The child's `doPolling` moves past a finished grandchild to the next step's;
    /// `past_failure` when that grandchild had FAILED (a DestroyImage the release checks).
    ChildNextStep {
        past_failure: bool,
    },
    /// The child's `doPolling` reaches COMPLETE and ends it.
    ChildCompletes,
    ChildFails(ChildFailure),
    GrandchildPicksUp,
    MergeReachesHost,
    /// VM.merge refused; `verified` when the release takes the refusal for a running merge.
    MergeRefused {
        verified: bool,
    },
    GrandchildReturns,
    /// An EXECUTION_FAILED grandchild's own callback ends it FAILED: it never executed.
    GrandchildNeverExecuted,
    /// An EXECUTION_FAILED DestroyImage's own callback finds no task and ends it SUCCEEDED.
    GrandchildEndsWithoutTask,
    GrandchildEnds(Ending),
    HostJobEnds,
    HostJobFails,
    DeleteVolumeFails,
    Expire,
}

impl Transition {
    /// Every transition, each once.
    pub const ALL: [Transition; 43] = [
        Transition::ParentBegins,
        Transition::ParentStartsChild,
        Transition::ParentReturns,
        Transition::ParentDecides { success: true },
        Transition::ParentDecides { success: false },
        Transition::ParentEndAction { success: true },
        Transition::ParentEndAction { success: false },
        Transition::Restart,
        Transition::UserRetries,
        Transition::PoolPicksUp,
        Transition::ChildReturns,
        Transition::ImageInfoFails,
        Transition::ChildOnSucceeded,
        Transition::ChildOnFailed { merged: true },
        Transition::ChildOnFailed { merged: false },
        Transition::ChildStartsGrandchild,
        Transition::ChildNextStep {
            past_failure: false,
        },
        Transition::ChildNextStep { past_failure: true },
        Transition::ChildCompletes,
        Transition::ChildFails(ChildFailure::GrandchildExecutionFailed),
        Transition::ChildFails(ChildFailure::GrandchildFailed),
        Transition::ChildFails(ChildFailure::EarlierDestroyFailed),
        Transition::ChildFails(ChildFailure::NeverExecuted),
        Transition::GrandchildPicksUp,
        Transition::MergeReachesHost,
        Transition::MergeRefused { verified: false },
        Transition::MergeRefused { verified: true },
        Transition::GrandchildReturns,
        Transition::GrandchildNeverExecuted,
        Transition::GrandchildEndsWithoutTask,
        Transition::GrandchildEnds(Ending::NothingToExtend),
        Transition::GrandchildEnds(Ending::MergeHandedOver),
        Transition::GrandchildEnds(Ending::ChainMerged),
        Transition::GrandchildEnds(Ending::TopStillInChain),
        Transition::GrandchildEnds(Ending::VolumeDeleted),
        Transition::GrandchildEnds(Ending::VolumeAlreadyGone),
        Transition::GrandchildEnds(Ending::NothingToReduce),
        Transition::GrandchildEnds(Ending::VolumeGone),
        Transition::GrandchildEnds(Ending::VolumeStillThere),
        Transition::HostJobEnds,
        Transition::HostJobFails,
        Transition::DeleteVolumeFails,
        Transition::Expire,
    ];

    /// A short name of its own, the label of its arrow in the sequence diagram.
    pub fn label(self) -> &'static str {
        use Transition as T;
        match self {
            T::ParentBegins => "execute(): ACTIVE, snapshot LOCKED",
            T::ParentStartsChild => "executeAsyncCommand: NOT_STARTED",
            T::ParentReturns => "parent execute() returns",
            T::ParentDecides { success: true } => "doPolling -> SUCCEEDED",
            T::ParentDecides { success: false } => "doPolling -> FAILED",
            T::ParentEndAction { success: true } => "onSucceeded: snapshot DELETED, rows deleted",
            T::ParentEndAction { success: false } => "onFailed: snapshot OK, rows deleted",
            T::Restart => "ENGINE RESTART",
            T::UserRetries => "user removes the snapshot again",
            T::PoolPicksUp => "pool thread: ACTIVE",
            T::ChildReturns => "child execute() returns",
            T::ImageInfoFails => "GetImageInfo(top) no answer: COMPLETE",
            T::ChildOnSucceeded => "onSucceeded: syncDbRecords",
            T::ChildOnFailed { merged: true } => "onFailed: merged, leaves the snapshot",
            T::ChildOnFailed { merged: false } => "onFailed: images ILLEGAL",
            T::ChildStartsGrandchild => "doPolling: starts",
            T::ChildNextStep {
                past_failure: false,
            } => "doPolling: next step",
            T::ChildNextStep { past_failure: true } => "doPolling: past a failed step",
            T::ChildCompletes => "doPolling: COMPLETE",
            T::ChildFails(ChildFailure::GrandchildExecutionFailed) => {
                "doPolling: grandchild EXECUTION_FAILED -> FAILED"
            }
            T::ChildFails(ChildFailure::GrandchildFailed) => {
                "doPolling: grandchild FAILED -> FAILED"
            }
            T::ChildFails(ChildFailure::EarlierDestroyFailed) => {
                "doPolling: a DestroyImage failed -> FAILED"
            }
            T::ChildFails(ChildFailure::NeverExecuted) => "doPolling: never executed -> FAILED",
            T::GrandchildPicksUp => "pool thread: grandchild ACTIVE",
            T::MergeReachesHost => "VM.merge: block commit starts",
            T::MergeRefused { verified: false } => "VM.merge fails: top not in chain",
            T::MergeRefused { verified: true } => "VM.merge fails: top not in chain; verify it",
            T::GrandchildReturns => "grandchild execute() returns",
            T::GrandchildNeverExecuted => "grandchild never executed -> FAILED",
            T::GrandchildEndsWithoutTask => "DestroyImage: no task -> SUCCEEDED",
            T::GrandchildEnds(Ending::NothingToExtend) => "extend: nothing to do",
            T::GrandchildEnds(Ending::MergeHandedOver) => "Merge ends: the job is the host's",
            T::GrandchildEnds(Ending::ChainMerged) => "chain read: merged",
            T::GrandchildEnds(Ending::TopStillInChain) => "chain read: top still there",
            T::GrandchildEnds(Ending::VolumeDeleted) => "deleteVolume(top)",
            T::GrandchildEnds(Ending::VolumeAlreadyGone) => "deleteVolume(top) fails: no volume",
            T::GrandchildEnds(Ending::NothingToReduce) => "reduce: nothing to do",
            T::GrandchildEnds(Ending::VolumeGone) => "check: top's volume is gone",
            T::GrandchildEnds(Ending::VolumeStillThere) => "check: top's volume is still there",
            T::HostJobEnds => "merge job ends: merged",
            T::HostJobFails => "merge job FAILS",
            T::DeleteVolumeFails => "deleteVolume FAILS",
            T::Expire => "3000 min: ACTIVE -> FAILED",
        }
    }

    /// Whether the poller's dispatch of a command's callback ended that command's life with the
    /// poller (its end-action ran).
    pub fn ends_a_command(self) -> bool {
        matches!(
            self,
            Transition::ParentEndAction { .. }
                | Transition::ChildOnSucceeded
                | Transition::ChildOnFailed { .. }
        )
    }

    /// Whether the poller's dispatch changed the polled command's status.
    pub fn changes_a_status(self) -> bool {
        matches!(
            self,
            Transition::ParentDecides { .. }
                | Transition::ChildCompletes
                | Transition::ChildFails(_)
        )
    }

    /// The grandchild ending that means deleteVolume ran on the host and succeeded.
    pub fn deleted_a_volume(self) -> bool {
        self == Transition::GrandchildEnds(Ending::VolumeDeleted)
    }

    /// The grandchild endings where `deleteVolume` ran on the host (and succeeded, or failed for
    /// a volume that was gone already).
    pub fn called_delete_volume(self) -> bool {
        matches!(
            self,
            Transition::GrandchildEnds(Ending::VolumeDeleted | Ending::VolumeAlreadyGone)
        )
    }

    /// Whether `event` can take this branch (a test checks `step` never pairs them otherwise).
    pub fn fits(self, event: Event) -> bool {
        use Transition as T;
        match event {
            Event::ParentBegins => self == T::ParentBegins,
            Event::ParentStartsChild => self == T::ParentStartsChild,
            Event::ParentReturns => self == T::ParentReturns,
            Event::PollParent => {
                matches!(self, T::ParentDecides { .. } | T::ParentEndAction { .. })
            }
            Event::Restart => self == T::Restart,
            Event::UserRetries => self == T::UserRetries,
            Event::PoolPicksUp(_) => self == T::PoolPicksUp,
            Event::ChildReturns(_) => self == T::ChildReturns,
            Event::ImageInfoFails(_) => self == T::ImageInfoFails,
            Event::PollChild(_) => matches!(
                self,
                T::ChildOnSucceeded
                    | T::ChildOnFailed { .. }
                    | T::ChildStartsGrandchild
                    | T::ChildNextStep { .. }
                    | T::ChildCompletes
                    | T::ChildFails(_)
            ),
            Event::GrandchildPicksUp(_) => self == T::GrandchildPicksUp,
            Event::MergeReachesHost(_) => self == T::MergeReachesHost,
            Event::MergeRefused(_) => matches!(self, T::MergeRefused { .. }),
            Event::GrandchildReturns(_) => self == T::GrandchildReturns,
            Event::TaskEnds(_) => matches!(
                self,
                T::GrandchildNeverExecuted | T::GrandchildEndsWithoutTask | T::GrandchildEnds(_)
            ),
            Event::HostJobEnds(_) => self == T::HostJobEnds,
            Event::HostJobFails(_) => self == T::HostJobFails,
            Event::DeleteVolumeFails(_) => self == T::DeleteVolumeFails,
            Event::Expire => self == T::Expire,
        }
    }
}
