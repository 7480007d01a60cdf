// The URLs of a session's resources, relative to the service's origin (the service cannot know
// the name a proxy in front of it is reached by; tus's Location is relative too).
export const API_BASE = '/api/v1/video';

export interface SessionLinks {
  status: string;
  events: string;
  results: string;
  cancel: string;
  cleanup: string;
}

export function sessionLinks(id: string): SessionLinks {
  return {
    status: `${API_BASE}/status/${id}`,
    events: `${API_BASE}/events/${id}`,
    results: `${API_BASE}/results/${id}`,
    cancel: `${API_BASE}/cancel/${id}`,
    cleanup: `${API_BASE}/cleanup/${id}`,
  };
}
