package nexmark

import "testing"

func BenchmarkTmp(b *testing.B) { benchQuery(b, "qhop") }
