// Preemption: SIGTERM (what the worker sends on cancel, drain or node shutdown) and SIGINT only
// set a flag. The trainer polls it after every optimizer step, writes a checkpoint and exits
// with kPreemptedExitCode, which the worker reports as PREEMPTED (docs/training.md). Because
// the handler does nothing else, a second signal during the save changes nothing.
#pragma once

namespace ritsu::train {

// EX_TEMPFAIL: "try again later"; the task continues with --resume auto.
inline constexpr int kPreemptedExitCode = 75;

// Installs the flag-setting handler for SIGTERM and SIGINT (SA_RESTART, so file writes in
// progress are not interrupted). `ritsu-engine train` calls it before anything is loaded.
void InstallStopSignalHandlers();
bool StopRequested();
// What the handler does; tests call it directly or raise the signal.
void RequestStop();
void ClearStopRequest();

}  // namespace ritsu::train
