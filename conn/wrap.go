package conn

import (
	"context"
	"fmt"
	"reflect"

	"github.com/redis/go-redis/v9"

	"github.com/ria-go/ria/internal/noretry"
)

// The Wrap functions are the Go form of the book's redis_connection decorator: given a registry and a
// component, they return a function that resolves the component's client, holds it for the call, and
// calls the domain function with it. C is the client type the domain function takes
// (redis.UniversalClient, redis.Cmdable or a smaller interface of its own); the registry's client must
// implement it, else the call returns ErrClientType.
//
//	purchase := conn.Wrap4(reg, "market", market.PurchaseItem)
//	receipt, err := purchase(ctx, buyer, item, seller, price)

// Call resolves component's client and calls fn with it. Once ctx has ended, its error matches
// ctx.Err(), fn's included: whether fn wrapped go-redis's error with %v or ran on a client from an
// Options.NewClient hook that reports a deadline as an i/o timeout.
func Call[C, T any](ctx context.Context, r *Registry, component string, fn func(context.Context, C) (T, error)) (_ T, err error) {
	defer func() { err = noretry.CtxErr(ctx, err) }()
	var zero T
	client, release, err := r.Acquire(ctx, component)
	if err != nil {
		return zero, err
	}
	defer release()
	c, err := As[C](client, component)
	if err != nil {
		return zero, err
	}
	return fn(ctx, c)
}

// As converts a registry client to the client type C a domain function takes. Its error, wrapping
// ErrClientType, names both types as they are written in Go ("*redis.Client", "redis.Cmdable").
func As[C any](client redis.UniversalClient, component string) (C, error) {
	c, ok := any(client).(C)
	if !ok {
		var zero C
		want := reflect.TypeFor[C]()
		is := "is not a"
		if want.Kind() == reflect.Interface {
			is = "does not implement"
		}
		has := fmt.Sprintf("a %T", client)
		if client == nil {
			has = "no client"
		}
		return zero, fmt.Errorf("%w: component %q has %s, which %s %v", ErrClientType, component, has, is, want)
	}
	return c, nil
}

// Wrap binds a function with no arguments beyond the client.
func Wrap[C, T any](r *Registry, component string, fn func(context.Context, C) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) { return Call(ctx, r, component, fn) }
}

// Wrap1 binds a function of one argument.
func Wrap1[C, A, T any](r *Registry, component string, fn func(context.Context, C, A) (T, error)) func(context.Context, A) (T, error) {
	return func(ctx context.Context, a A) (T, error) {
		return Call(ctx, r, component, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, a) })
	}
}

// Wrap2 binds a function of two arguments.
func Wrap2[C, A, B, T any](r *Registry, component string, fn func(context.Context, C, A, B) (T, error)) func(context.Context, A, B) (T, error) {
	return func(ctx context.Context, a A, b B) (T, error) {
		return Call(ctx, r, component, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, a, b) })
	}
}

// Wrap3 binds a function of three arguments.
func Wrap3[C, A, B, D, T any](r *Registry, component string, fn func(context.Context, C, A, B, D) (T, error)) func(context.Context, A, B, D) (T, error) {
	return func(ctx context.Context, a A, b B, d D) (T, error) {
		return Call(ctx, r, component, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, a, b, d) })
	}
}

// Wrap4 binds a function of four arguments.
func Wrap4[C, A, B, D, E, T any](r *Registry, component string, fn func(context.Context, C, A, B, D, E) (T, error)) func(context.Context, A, B, D, E) (T, error) {
	return func(ctx context.Context, a A, b B, d D, e E) (T, error) {
		return Call(ctx, r, component, func(ctx context.Context, c C) (T, error) { return fn(ctx, c, a, b, d, e) })
	}
}

// WrapPair binds a function that takes two components' clients, such as a master and its replica.
func WrapPair[C, A, T any](r *Registry, first, second string, fn func(context.Context, C, C, A) (T, error)) func(context.Context, A) (T, error) {
	return func(ctx context.Context, a A) (T, error) {
		return Call(ctx, r, first, func(ctx context.Context, c1 C) (T, error) {
			return Call(ctx, r, second, func(ctx context.Context, c2 C) (T, error) { return fn(ctx, c1, c2, a) })
		})
	}
}
