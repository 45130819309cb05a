package mongo

import "context"

// Sweep deletes the replaced listing pages now, for tests that count them.
func (s *Store) Sweep(ctx context.Context) { s.sweep(ctx) }
