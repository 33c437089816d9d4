import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// The build machine is shared and often loaded: give findBy/waitFor time enough that a slow render is
// not mistaken for a wrong one (a wrong one still fails, only later).
configure({ asyncUtilTimeout: 5000 });

afterEach(() => cleanup());
