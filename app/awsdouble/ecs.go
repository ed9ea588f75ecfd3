package awsdouble

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ECS, after https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html and
// API_DescribeServices.html: one Fargate service per (cluster, name), whose tasks run with a task role.
// Each task's credentials are a session of the task role named after the task id and issued when the task
// starts, as ECS's credential endpoint serves them. A deployment replaces every task at once and completes
// at once; stopped tasks' sessions stay valid, as STS credentials do until they expire.

// Task is one running ECS task and the task role session it runs with.
type Task struct {
	ID, ARN string
	Started time.Time
	Session Session
}

type ecsService struct {
	cluster, name, arn, clusterARN, taskDefinition string
	role                                           *role
	desired                                        int
	created                                        time.Time
	deployment                                     ecsDeployment
	tasks                                          []Task
	events                                         []ecsEvent // newest first
}

type ecsDeployment struct {
	id               string
	created, updated time.Time
}

type ecsEvent struct {
	id      string
	at      time.Time
	message string
}

// startAppService starts the task role's service; its first task runs with DefaultCredentials.
func (s *Server) startAppService() error {
	r, err := s.roleFor(s.opts.RoleARN)
	if err != nil {
		return err
	}
	svc := &ecsService{
		cluster: s.opts.Cluster, name: s.opts.Service, role: r, desired: s.opts.DesiredCount, created: s.started,
		arn:            s.ecsARN("service/" + s.opts.Cluster + "/" + s.opts.Service),
		clusterARN:     s.ecsARN("cluster/" + s.opts.Cluster),
		taskDefinition: s.ecsARN("task-definition/" + s.opts.Service + ":1"),
	}
	s.ecsMu.Lock()
	defer s.ecsMu.Unlock()
	s.clusters[svc.cluster] = map[string]*ecsService{svc.name: svc}
	s.deploy(svc, s.started, DefaultCredentials)
	return nil
}

func (s *Server) ecsARN(resource string) string {
	return "arn:aws:ecs:" + s.opts.Region + ":" + s.opts.AccountID + ":" + resource
}

// deploy replaces the service's tasks with svc.desired new ones started at; the first uses firstCreds when
// they are not empty. s.ecsMu is held.
func (s *Server) deploy(svc *ecsService, at time.Time, firstCreds Credentials) {
	svc.tasks = svc.tasks[:0]
	svc.deployment = ecsDeployment{id: "ecs-svc/" + randomDigits(19), created: at, updated: at}
	s.startTasks(svc, svc.desired, at, firstCreds)
	svc.events = append([]ecsEvent{{newUUID(), at, "(service " + svc.name + ") has reached a steady state."}}, svc.events...)
}

func (s *Server) startTasks(svc *ecsService, n int, at time.Time, firstCreds Credentials) {
	var started []string
	for i := range n {
		id := randomHex(16)
		creds := newCredentials("ASIA", true)
		if i == 0 && firstCreds.AccessKeyID != "" {
			creds = firstCreds
		}
		svc.tasks = append(svc.tasks, Task{
			ID: id, ARN: s.ecsARN("task/" + svc.cluster + "/" + id), Started: at,
			Session: s.startSession(svc.role, id, at, creds),
		})
		started = append(started, id)
	}
	if n > 0 {
		msg := fmt.Sprintf("(service %s) has started %d tasks: (task %s).", svc.name, n, strings.Join(started, ") (task "))
		svc.events = append([]ecsEvent{{newUUID(), at, msg}}, svc.events...)
	}
}

// Tasks returns the running tasks of a service, oldest first; nil when there is no such service.
func (s *Server) Tasks(cluster, service string) []Task {
	s.ecsMu.Lock()
	defer s.ecsMu.Unlock()
	svc := s.clusters[cluster][service]
	if svc == nil {
		return nil
	}
	return append([]Task(nil), svc.tasks...)
}

type updateServiceRequest struct {
	Cluster            *string `json:"cluster,omitempty"`
	Service            *string `json:"service,omitempty"`
	DesiredCount       *int    `json:"desiredCount,omitempty"`
	ForceNewDeployment bool    `json:"forceNewDeployment,omitempty"`
}

type describeServicesRequest struct {
	Cluster  *string  `json:"cluster,omitempty"`
	Services []string `json:"services"`
	Include  []string `json:"include,omitempty"`
}

func (s *Server) updateService(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req updateServiceRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, &apiError{"InvalidParameterException", "awsdouble models UpdateService's cluster, service, desiredCount and forceNewDeployment only: " + err.Error()}
	}
	ev.params, _ = json.Marshal(req)
	if req.Service == nil || *req.Service == "" {
		return nil, &apiError{"InvalidParameterException", "Service cannot be empty."}
	}
	s.ecsMu.Lock()
	defer s.ecsMu.Unlock()
	svc, aerr := s.findService(req.Cluster, *req.Service)
	if aerr != nil {
		return nil, aerr
	}
	ev.resourceARN, ev.resourceTy = svc.arn, "AWS::ECS::Service"
	if aerr := s.authorize(ev, "UpdateService", svc.arn, ""); aerr != nil {
		return nil, aerr
	}
	if req.DesiredCount != nil && *req.DesiredCount < 0 {
		return nil, &apiError{"InvalidParameterException", "Desired count must be at least 0."}
	}
	switch {
	case req.ForceNewDeployment:
		if req.DesiredCount != nil {
			svc.desired = *req.DesiredCount
		}
		s.deploy(svc, ev.at, Credentials{})
	case req.DesiredCount != nil && *req.DesiredCount > len(svc.tasks):
		svc.desired = *req.DesiredCount
		s.startTasks(svc, svc.desired-len(svc.tasks), ev.at, Credentials{})
	case req.DesiredCount != nil:
		svc.desired = *req.DesiredCount
		svc.tasks = svc.tasks[:svc.desired]
	}
	svc.deployment.updated = ev.at
	resp, _ := json.Marshal(map[string]any{"service": s.serviceJSON(svc)})
	ev.response = resp
	return append(out, resp...), nil
}

func (s *Server) describeServices(body []byte, ev *event, out []byte) ([]byte, *apiError) {
	var req describeServicesRequest
	if aerr := decodeRequest(body, &req); aerr != nil {
		return nil, aerr
	}
	ev.params, _ = json.Marshal(req)
	if len(req.Services) == 0 || len(req.Services) > 10 {
		return nil, &apiError{"InvalidParameterException", "services must contain 1 to 10 services."}
	}
	s.ecsMu.Lock()
	defer s.ecsMu.Unlock()
	found := []map[string]any{}
	failures := []map[string]string{}
	for _, name := range req.Services {
		svc, aerr := s.findService(req.Cluster, name)
		if aerr != nil && aerr.errType == "ClusterNotFoundException" {
			return nil, aerr
		}
		if aerr != nil {
			failures = append(failures, map[string]string{"arn": s.ecsARN("service/" + clusterName(req.Cluster) + "/" + serviceName(name)), "reason": "MISSING"})
			continue
		}
		if aerr := s.authorize(ev, "DescribeServices", svc.arn, ""); aerr != nil {
			return nil, aerr
		}
		found = append(found, s.serviceJSON(svc))
	}
	resp, _ := json.Marshal(map[string]any{"services": found, "failures": failures})
	return append(out, resp...), nil
}

// findService resolves a cluster (name or ARN; "default" when absent) and a service (name or ARN). s.ecsMu is held.
func (s *Server) findService(cluster *string, service string) (*ecsService, *apiError) {
	services, ok := s.clusters[clusterName(cluster)]
	if !ok {
		return nil, &apiError{"ClusterNotFoundException", "Cluster not found."}
	}
	svc := services[serviceName(service)]
	if svc == nil {
		return nil, &apiError{"ServiceNotFoundException", "Service not found."}
	}
	return svc, nil
}

func clusterName(cluster *string) string {
	if cluster == nil || *cluster == "" {
		return "default"
	}
	if _, name, ok := strings.Cut(*cluster, ":cluster/"); ok {
		return name
	}
	return *cluster
}

func serviceName(service string) string {
	if i := strings.LastIndexByte(service, '/'); i >= 0 && strings.HasPrefix(service, "arn:") {
		return service[i+1:]
	}
	return service
}

// serviceJSON is the Service shape of the API reference, with what the double models filled in.
func (s *Server) serviceJSON(svc *ecsService) map[string]any {
	events := make([]map[string]any, 0, len(svc.events))
	for _, e := range svc.events[:min(len(svc.events), 100)] {
		events = append(events, map[string]any{"id": e.id, "createdAt": epoch(e.at), "message": e.message})
	}
	running := len(svc.tasks)
	return map[string]any{
		"serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": svc.clusterARN, "status": "ACTIVE",
		"desiredCount": svc.desired, "runningCount": running, "pendingCount": 0,
		"launchType": "FARGATE", "platformVersion": "LATEST", "platformFamily": "Linux",
		"taskDefinition": svc.taskDefinition, "schedulingStrategy": "REPLICA",
		"deploymentController": map[string]string{"type": "ECS"},
		"deployments": []map[string]any{{
			"id": svc.deployment.id, "status": "PRIMARY", "taskDefinition": svc.taskDefinition,
			"desiredCount": svc.desired, "pendingCount": 0, "runningCount": running, "failedTasks": 0,
			"createdAt": epoch(svc.deployment.created), "updatedAt": epoch(svc.deployment.updated),
			"launchType": "FARGATE", "rolloutState": "COMPLETED",
			"rolloutStateReason": "ECS deployment " + svc.deployment.id + " completed.",
		}},
		"events":    events,
		"createdAt": epoch(svc.created),
	}
}

// epoch is a timestamp as the JSON protocols carry it: seconds since the epoch, with milliseconds.
func epoch(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64))
}

func randomHex(n int) string {
	b := make([]byte, n)
	fillRandom(b)
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	fillRandom(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
