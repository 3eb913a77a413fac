package rpc

import (
	"context"
)

func (s *Server) providersList(ctx context.Context, req *request) (any, error) {
	return map[string]any{"providers": s.opts.Providers.List()}, nil
}

func (s *Server) modelsList(ctx context.Context, req *request) (any, error) {
	var p struct {
		Provider string `json:"provider"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if p.Provider == "" {
		return nil, invalidParams("provider", "provider is required")
	}
	prov, err := s.opts.Providers.Get(p.Provider)
	if err != nil {
		return nil, err
	}
	models, err := prov.Models(ctx)
	if err != nil {
		return nil, err
	}
	if models == nil {
		models = []string{}
	}
	return map[string]any{"models": models}, nil
}
