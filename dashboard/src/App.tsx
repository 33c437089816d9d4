import { NavLink, Navigate, Route, Routes } from 'react-router';
import { ComparePage } from './features/compare/ComparePage';
import { ExperimentPage } from './features/experiments/ExperimentPage';
import { ExperimentsPage } from './features/experiments/ExperimentsPage';
import { SubmitPage } from './features/experiments/SubmitPage';
import { QueuePage } from './features/queue/QueuePage';
import { RunPage } from './features/runs/RunPage';
import { RunsPage } from './features/runs/RunsPage';

const NAV = [
  { to: '/experiments', label: 'Experiments' },
  { to: '/submit', label: 'Submit' },
  { to: '/runs', label: 'Runs' },
  { to: '/queue', label: 'Queue' },
  { to: '/compare', label: 'Compare' },
];

export function App() {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top-bar">
        <span className="brand">cca-lab</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <NavLink to={n.to}>{n.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes>
          <Route path="/" element={<Navigate to="/experiments" replace />} />
          <Route path="/experiments" element={<ExperimentsPage />} />
          <Route path="/experiments/:id" element={<ExperimentPage />} />
          <Route path="/submit" element={<SubmitPage />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/:id" element={<RunPage />} />
          <Route path="/queue" element={<QueuePage />} />
          <Route path="/compare" element={<ComparePage />} />
          <Route path="*" element={<p className="empty">No such page.</p>} />
        </Routes>
      </main>
    </>
  );
}
