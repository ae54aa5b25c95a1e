package planner

import (
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// NameOptionPrefix starts a job option that names an operator explicitly:
// WITH ("name.window_agg_device" = 'per_device').
const NameOptionPrefix = "name."

// jobOptionKeys are the options CREATE JOB ... WITH accepts (besides name.*).
var jobOptionKeys = []string{
	"allowed_lateness", "emit_early", "late_data", "max_workers", "min_workers",
	"parallelism", "snapshot_every", "snapshot_keep",
}

// ParseJobOptions validates CREATE JOB ... WITH options and fills defaults.
// An unknown option, or a bad value, is 22023 naming it. Operator names
// (name.*) are returned in Raw and applied by PlanJob.
func ParseJobOptions(with []sql.Option) (plan.JobOptions, error) {
	o := plan.JobOptions{MinWorkers: 1, MaxWorkers: runtime.NumCPU(), LateData: "drop", SnapshotKeep: 3, Raw: map[string]string{}}
	minSet, maxSet := false, false
	for _, opt := range with {
		k, v := opt.Key, strings.TrimSpace(opt.Value)
		if _, dup := o.Raw[k]; dup {
			return o, errAt(opt.Pos, pgerr.InvalidParameterValue, "job option %q given more than once", k)
		}
		o.Raw[k] = opt.Value
		var err error
		switch k {
		case "parallelism":
			if strings.EqualFold(v, "auto") {
				o.Parallelism = 0
			} else {
				o.Parallelism, err = positiveInt(k, v)
			}
		case "min_workers":
			o.MinWorkers, err = positiveInt(k, v)
			minSet = true
		case "max_workers":
			o.MaxWorkers, err = positiveInt(k, v)
			maxSet = true
		case "allowed_lateness":
			o.AllowedLateness, err = parseDuration(k, v)
		case "emit_early":
			o.EmitEarly, err = parseDuration(k, v)
			if err == nil && o.EmitEarly == 0 {
				err = pgerr.New(pgerr.InvalidParameterValue, "job option emit_early must be positive (leave it out to turn early panes off)")
			}
		case "snapshot_every":
			o.SnapshotEvery, err = parseDuration(k, v)
			if err == nil && o.SnapshotEvery == 0 {
				err = pgerr.New(pgerr.InvalidParameterValue, "job option snapshot_every must be positive")
			}
		case "snapshot_keep":
			o.SnapshotKeep, err = positiveInt(k, v)
		case "late_data":
			switch strings.ToLower(v) {
			case "drop":
				o.LateData = "drop"
			case "dead_letters", "dead_letter":
				o.LateData = "dead_letters"
			default:
				err = pgerr.New(pgerr.InvalidParameterValue,
					"invalid value %q for job option late_data: use 'drop' or 'dead_letters'", opt.Value)
			}
		default:
			if strings.HasPrefix(k, NameOptionPrefix) && len(k) > len(NameOptionPrefix) {
				if strings.TrimSpace(opt.Value) == "" {
					err = pgerr.New(pgerr.InvalidParameterValue, "job option %q: an operator name cannot be empty", k)
				}
				break
			}
			err = pgerr.New(pgerr.InvalidParameterValue, "unrecognized job option %q", k).
				WithHint("Valid options: %s, and name.<operator> = '<new name>'.", strings.Join(jobOptionKeys, ", "))
		}
		if err != nil {
			return o, positioned(err, opt.Pos)
		}
	}
	if !maxSet && minSet && o.MaxWorkers < o.MinWorkers {
		o.MaxWorkers = o.MinWorkers
	}
	if o.MaxWorkers < o.MinWorkers {
		return o, pgerr.New(pgerr.InvalidParameterValue, "job option max_workers (%d) is less than min_workers (%d)", o.MaxWorkers, o.MinWorkers)
	}
	return o, nil
}

// nameOverrides returns the name.* options: default name -> chosen name,
// keys in sorted order.
func nameOverrides(o plan.JobOptions) (map[string]string, []string) {
	m := map[string]string{}
	var keys []string
	for k, v := range o.Raw {
		if strings.HasPrefix(k, NameOptionPrefix) {
			d := strings.TrimPrefix(k, NameOptionPrefix)
			m[d] = strings.TrimSpace(v)
			keys = append(keys, d)
		}
	}
	sort.Strings(keys)
	return m, keys
}

func positiveInt(key, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, pgerr.New(pgerr.InvalidParameterValue, "invalid value %q for job option %s: want a positive integer", v, key)
	}
	return n, nil
}

// parseDuration reads an interval option ('1 minute', '10 seconds') as
// microseconds. Months count as 30 days, years as 365 days.
func parseDuration(key, v string) (int64, error) {
	months, us, err := datum.ParseInterval(v)
	if err != nil || us < 0 || months < 0 {
		return 0, pgerr.New(pgerr.InvalidParameterValue, "invalid value %q for option %s: want an interval such as '1 minute'", v, key)
	}
	years := int64(months / 12)
	return us + years*365*86400e6 + int64(months%12)*30*86400e6, nil
}
