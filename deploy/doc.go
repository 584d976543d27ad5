// Package deploy holds no code: its tests check the deployment files
// (deploy/kubernetes/*.yaml, the Helm chart deploy/helm/otpgate rendered
// with a table of values, examples/traefik/*.yml and the Dockerfile)
// against otpgate's code. They decode every Kubernetes document strictly
// into the real types of k8s.io/api, so a misspelled or misplaced field
// fails here rather than in a cluster. It is a module of its own so that
// otpgate's binary does not depend on k8s.io:
//
//	cd deploy && go test ./...
package deploy
