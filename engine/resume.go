package engine

import (
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/pgerr"
)

// ResumeJob adopts, instead of launching it again, the job named name that
// an earlier process launched on this data directory (weir run --resume): a
// live job, which Open resumed from its last commit, becomes one of the
// session's jobs, so WaitJobs, DrainJobs and JobsError cover it; a job that
// already ended DONE, DRAINED or CANCELLED is adopted as ended. A job whose
// last launch FAILED is an error (resuming cannot continue it). It reports
// false, and does nothing, when no job of that name was ever launched: the
// caller runs its CREATE JOB.
func (s *Session) ResumeJob(name string) (bool, error) {
	e := s.e
	j, ok := e.cat.LatestJob(name)
	if !ok {
		return false, nil
	}
	for _, sj := range s.jobs {
		if sj.id == j.ID {
			return true, nil
		}
	}
	bounded := true
	switch {
	case j.Live():
		rj := e.runningJob(name)
		if rj == nil || rj.Meta().ID != j.ID {
			return true, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s (job id %d) is live but did not resume", name, j.ID)
		}
		bounded = jobBounded(rj.Plan())
	case j.State == catalog.JobFailed:
		return true, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s (job id %d) failed in an earlier run: %s", name, j.ID, j.Error).
			WithHint("a failed job is not resumed; fix the cause and launch it again without --resume")
	}
	s.jobs = append(s.jobs, sessionJob{name: name, id: j.ID, bounded: bounded})
	return true, nil
}
