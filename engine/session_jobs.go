package engine

import (
	"context"
	"errors"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/pgerr"
)

// waitBounded waits for every bounded job this session launched.
func (s *Session) waitBounded(ctx context.Context) error {
	for _, j := range s.jobs {
		if j.bounded {
			if err := s.e.WaitJob(ctx, j.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// HasUnboundedJobs reports whether a job this session launched reads an
// unbounded source and is still running.
func (s *Session) HasUnboundedJobs() bool {
	for _, j := range s.jobs {
		if !j.bounded && s.e.runningJob(j.name) != nil {
			return true
		}
	}
	return false
}

// WaitJobs waits for every job this session launched to end.
func (s *Session) WaitJobs(ctx context.Context) error {
	for _, j := range s.jobs {
		if err := s.e.WaitJob(ctx, j.name); err != nil {
			return err
		}
	}
	return nil
}

// DrainJobs drains every running job this session launched and waits.
func (s *Session) DrainJobs(ctx context.Context) {
	for _, j := range s.jobs {
		if rj := s.e.runningJob(j.name); rj != nil && rj.Meta().ID == j.id {
			_ = s.e.markDraining(j.id, rj)
			rj.Drain()
		}
	}
	_ = s.WaitJobs(ctx)
}

// CancelJobs cancels every running job this session launched.
func (s *Session) CancelJobs() {
	for _, j := range s.jobs {
		if rj := s.e.runningJob(j.name); rj != nil && rj.Meta().ID == j.id {
			rj.Cancel()
		}
	}
}

// JobsError returns the error of the first job this session launched that
// failed.
func (s *Session) JobsError() error {
	var errs []error
	for _, j := range s.jobs {
		cj, err := s.e.cat.GetJob(j.id)
		if err != nil {
			continue
		}
		if cj.State == catalog.JobFailed {
			errs = append(errs, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s failed: %s", cj.Name, cj.Error))
		} else if runErr := s.e.jobRunError(j.id); runErr != nil {
			// Failed, but the store could not record it (a storage
			// failure): the job stays live and resumes at the next Open.
			pe := pgerr.Wrap(runErr)
			errs = append(errs, pgerr.New(pe.Code, "job %s failed: %s", cj.Name, pe.Message))
		}
	}
	return errors.Join(errs...)
}
